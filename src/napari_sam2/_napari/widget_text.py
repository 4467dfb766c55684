"""What the dock widget says to explain itself: tooltips, the next step, the progress of a run.
Plain strings, so they are tested without Qt."""
from __future__ import annotations

from ..engine.scale import ESTIMATED

TOOLTIPS = {
    "image": "The time-lapse or z-stack to track: an image layer of the viewer.",
    "axis": "The axis whose slices are tracked one after the other: time for a time-lapse, z for a z-stack.",
    "depth": "Tick for a z-stack: its slices are tracked as depth, \"Track all cells\" gives 3-D labels with no "
             "divisions, and the store's first axis is z. Ticked by itself when napari names the axis z; an image "
             "opened without axis names reads as a time-lapse. A store made before keeps its axes.",
    "model": "The SAM 2 model. 'embedded' is small, trained for microscopy and comes with the plugin; "
             "the official SAM 2.1 models are downloaded once; or a checkpoint file of your own.",
    "precision": "The numbers the model computes with. auto: bfloat16 where this machine runs it fast (a GPU "
                 "with bfloat16, a CPU with AMX) and the model is an official one, float32 elsewhere (the embedded "
                 "model gains little from bfloat16 and its masks drift); the choice shows here once "
                 "tracking starts. float32 gives the reference's masks exactly; bfloat16 is faster where supported.",
    "checkpoint": "A SAM 2 checkpoint file (.pt) of your own, used with the model 'checkpoint file'.",
    "browse": "Choose a checkpoint file.",
    "store": "The folder (.zarr) where the tracked labels and your clicks are saved as you go. Empty: next "
             "to the image file, or in napari-sam2's data folder for an image without a writable folder. "
             "Starting on the same store again brings the work back.",
    "cleanup": "Keeps each mask in one piece (the piece under your click, or the largest) and fills its holes "
               "(dark nucleoli, gaps in the chromatin); a box is given to the model with a click at its centre, "
               "and its mask keeps nothing outside the box. The labels written for clicked cells grow to the cell's "
               "outline in the image (the model's masks often cover part of a real nucleus), never onto another "
               "label or a neighbour; a drawn mask or a negative click keeps your outline. Untick it to see the "
               "model's masks as they are. Applies from the next Start.",
    "start": "Adds three layers for this image: clicks, boxes and masks, and the tracked labels (one label "
             "value per object). Starting again on the same image reopens its work.",
    "new_object": "The next clicks belong to a new object (the next label value): press it before you click "
                  "each new cell.",
    "forward": "Track every object from the frames you clicked to the last frame, in the background.",
    "backward": "Track every object from the frames you clicked back to the first frame, in the background.",
    "both": "Track every object forward to the last frame, then backward to the first.",
    "stop": "Stop after the frame being tracked. The frames done are kept; propagating again goes on from there.",
    "undo": "Put back the labels as they were before the last propagation (one level; a click after the "
            "propagation makes it final).",
    "show": "Put the tracked labels (and the clicks and boxes layers) back in the layer list if they were "
            "deleted; the labels themselves are kept on disk.",
    "progress": "Frames tracked in this run, out of the frames it covers.",
    "diameter": "A typical cell's width in pixels of this image. Frames are resampled so that cells have the size "
                "the model works best at, and cut into tiles. 'automatic': estimated from the frames when "
                "you press Start (shown below); set it when the masks spill over several cells or cover only "
                "part of one.",
}

# the "All cells" section (cell_panel.py)
CELL_TOOLTIPS = {
    "own_image": "Add the frames on screen (this channel or plane, through every time point) as an image layer of "
                 "their own, chosen as the image to track: press 'Start tracking this image', then 'Track all cells'.",
    "seeds": "Where the cells of the first frame come from: found by the model, or a Labels layer (e.g. cellpose "
             "or StarDist output) of the first frame or of every frame, one label per cell.",
    "track": "Find every cell with the model, follow it through the frames, and record divisions (a daughter gets "
             "a new label, its parent is kept) and cells entering later. 'Stop' keeps the frames done; pressing "
             "again goes on. The Tracks layer shows the lineage. Cells already labelled on the first frame "
             "keep their ids; labels painted on later frames keep their pixels.",
    "ids": "Track ids (label values) the corrections act on; empty: the label selected in the Labels layer.",
    "delete": "Erase the track (one id) from every frame; its daughters become tracks of their own.",
    "join": "Two ids, earlier then later: one cell tracked as two; the later track takes the earlier's id.",
    "division": "Parent then daughters: 'P D1 D2', or 'P D' when the parent's label went on as one daughter "
                "(its part from D's first frame becomes the other daughter).",
    "undo_division": "The daughters of the parent (one id) become tracks of their own.",
    "undo": "Take back the last run or correction, labels and lineage (one level).",
    "export": "Write the labels and the lineage: a Cell Tracking Challenge folder (maskTTT.tif, res_track.txt), "
              "GEFF (the lineage graph) or a CSV of per-cell, per-frame measurements.",
}


def diameter_text(diameter: float, estimated: bool, tiles: int) -> str:
    """e.g. "Cell diameter: 18.3 px (estimated; 4 tiles)"."""
    how = ESTIMATED if estimated else "as set"
    return f"Cell diameter: {diameter:.1f} px ({how}; frames in {tiles} tile{'s' if tiles > 1 else ''})"


def next_step(started: bool, running: bool, obj_id: int = 1, objects: int = 0, clicks_layer: str = "",
              single_image: bool = False, tracked: tuple[int, int] | None = None) -> str:
    """One line saying what to do now (and which object the next click belongs to). tracked: (tracks,
    divisions) of the store's lineage when the selected label is one of its tracks (after 'Track all cells')."""
    if not started:
        return "Choose the image to track, then press 'Start tracking this image'."
    if running:
        return "Tracking: the labels fill in frame by frame. 'Stop' keeps the frames done."
    if tracked is not None:
        tracks, divisions = tracked
        return (f"{tracks} track{'s' if tracks != 1 else ''} and {divisions} division{'s' if divisions != 1 else ''} "
                f"in the labels; track {obj_id} is selected. A cell missed: press 'New object', click it and "
                "propagate. To delete, join or split tracks, use 'All cells' below on the selected label or typed ids.")
    if objects == 0:
        return (f"Editing object {obj_id}: click the centre of a cell in the layer '{clicks_layer}'. "
                "Press 'New object' before clicking the next cell.")
    if single_image:
        return (f"Editing object {obj_id} ({objects} object{'s' if objects > 1 else ''} so far). Press 'New object' "
                "and click the next cell; each click gives the cell's label at once.")
    return (f"Editing object {obj_id} ({objects} object{'s' if objects > 1 else ''} so far). Press 'New object' "
            "and click the next cell, or propagate. A click on another frame corrects the object there; "
            "'t' turns the selected click into a negative one (outside the cell).")


def progress_text(done: int, total: int, elapsed_s: float) -> str:
    """e.g. "12 / 40 frames, about 1 min 5 s left" (the time left from the pace so far)."""
    text = f"{done} / {total} frames"
    if 0 < done < total:
        left = round(elapsed_s / done * (total - done))
        text += f", about {left // 60} min {left % 60} s left" if left >= 60 else f", about {left} s left"
    return text
