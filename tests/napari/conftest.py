"""Fixtures of the napari tests (the root conftest gives `micro_model` and puts tests/ on sys.path).

No __init__.py in this folder on purpose: with tests/ on sys.path, a package named `napari`
here would hide the real napari.
"""
import numpy as np
import pytest
import torch

from napari_sam2.testing.synthetic import moving_nuclei_video


@pytest.fixture(autouse=True)
def one_torch_thread():
    """The micro model is tiny: one thread is fastest, and the machine may be shared. Set before
    every test: the first numba kernel of a napari Labels layer (e.g. int32 labels) sets torch's
    threads to the number of cores, and a test after it would compare its workers' results (one
    thread) with the main thread's (two): the sums differ in the last bits, and so the masks."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def data_folder(monkeypatch, tmp_path):
    """Default stores of images without a file go to napari-sam2's data folder: the test's own."""
    folder = tmp_path / "napari-sam2 data"
    monkeypatch.setenv("NAPARI_SAM2_DATA_DIR", str(folder))
    return folder


@pytest.fixture(scope="session")
def video():
    """(frames (8, 96, 128) uint16, ground-truth labels) with 3 drifting nuclei."""
    return moving_nuclei_video(8, 96, 128, 3)


@pytest.fixture
def cell_centres(video):
    """{obj_id: (row, col)} of each nucleus in frame 0."""
    _, labels = video
    centres = {}
    for obj_id in (1, 2, 3):
        rows, cols = np.nonzero(labels[0] == obj_id)
        centres[obj_id] = (float(rows.mean()), float(cols.mean()))
    return centres


@pytest.fixture
def notifications(monkeypatch):
    """Messages the widget shows, {"error": [...], "warning": [...], "info": [...]}."""
    import napari_sam2._napari.cell_panel as cell_panel
    import napari_sam2._napari.propagation as propagation
    import napari_sam2._napari.session as session
    import napari_sam2._napari.widget as widget

    shown = {"error": [], "warning": [], "info": []}
    for kind in shown:
        monkeypatch.setattr(widget, f"show_{kind}", shown[kind].append)
        monkeypatch.setattr(cell_panel, f"show_{kind}", shown[kind].append)
    monkeypatch.setattr(propagation, "show_error", shown["error"].append)
    monkeypatch.setattr(session, "show_warning", shown["warning"].append, raising=False)
    return shown

