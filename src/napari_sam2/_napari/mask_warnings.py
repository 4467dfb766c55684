"""A prompt whose mask looks wrong (the engine's FrameResult.warnings) becomes a napari warning
that says which object, on which frame, and what to do in the viewer."""
from __future__ import annotations

from napari.utils.notifications import show_warning

from ..engine.mask_check import CELL, EMPTY, TOO_LARGE
from .prompt_layers import TOGGLE_KEY

WHAT_TO_DO = {
    EMPTY: "Click nearer its centre or draw a box around it. If the cells are tiny at this frame size{hint}, "
           "crop the image to a region (e.g. 512 x 512 pixels) and track that, "
           "or choose a model with a larger input",
    TOO_LARGE: "If it is one small cell, it is probably too small for the model at this frame size{hint}: "
               "crop the image to a region (e.g. 512 x 512 pixels) and track that, "
               "or choose a model with a larger input. If the mask leaked into its neighbours, add a click "
               f"where it should stop and press '{TOGGLE_KEY}' to make it negative. If the object really is "
               "this large, carry on",
}


def mask_warning_text(result, obj_id: int) -> str | None:
    """The notification for obj_id's mask in a tracker result, or None if it looks plausible."""
    warning = result.warnings.get(obj_id) if result is not None else None
    if warning is None:
        return None
    if warning.kind == EMPTY:
        found = "the model found nothing where you prompted"
    else:
        found = f"{warning.covers()}, more than the {warning.limit:,} expected for {warning.compared_with}"
    advice = WHAT_TO_DO[warning.kind].format(hint=warning.scale_hint())
    if warning.kind == TOO_LARGE and warning.basis == CELL:
        advice += f". If the cells are wider than {warning.cell_diameter:.0f} pixels, set the cell diameter"
    return f"object {obj_id} on frame {result.frame}: {found}. {advice}."


def warn_about_mask(result, obj_id: int) -> None:
    """Show the notification for obj_id's mask in `result`, if its mask looks wrong."""
    text = mask_warning_text(result, obj_id)
    if text is not None:
        show_warning(text)
