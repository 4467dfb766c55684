"""The figures the embedded model's card states (models/MODEL_CARD.md), read from its table."""
import re

from napari_sam2.weights import models_dir


def stated_jf(kind: str) -> float:
    """The J&F of the card's evaluation row for a prompt kind ("1 click", "mask", ...)."""
    card = (models_dir() / "MODEL_CARD.md").read_text()
    row = re.search(rf"^\| {re.escape(kind)} \| [\d.]+ \| [\d.]+ \| ([\d.]+) \|", card, re.MULTILINE)
    assert row, f"models/MODEL_CARD.md has no '| {kind} | J | F | J&F |' row"
    return float(row.group(1))
