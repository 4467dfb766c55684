"""The shipped embedded model: it loads by default, is small, and tracks held-out simulated
time-lapses as well as its model card states."""
import pytest
import torch

from model_card import stated_jf
from napari_sam2 import load_model
from napari_sam2.engine.loading import embedded_model_path
from napari_sam2.training.evaluate import simulated_benchmark

TOLERANCE = 0.05  # 4 sequences here, 20 for the card


def test_the_embedded_model_is_shipped_small_and_loads_by_default():
    path = embedded_model_path()
    assert path.is_file(), f"{path} is missing: the package must ship its embedded model"
    assert path.stat().st_size <= 20 * 2**20
    model = load_model(device="cpu")
    assert model.cfg.name == "napari_sam2_micro" and not model.training


@pytest.mark.slow
def test_the_embedded_model_reaches_its_card_on_held_out_time_lapses():
    torch.set_num_threads(2)
    scores = {s.kind: s for s in simulated_benchmark(load_model(device="cpu"), num_sequences=4, kinds=("1 click", "mask"))}
    for kind in ("1 click", "mask"):
        assert scores[kind].jf >= stated_jf(kind) - TOLERANCE, (kind, scores[kind], stated_jf(kind))
