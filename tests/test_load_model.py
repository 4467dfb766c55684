"""load_model by registry name: download from a local server, verify, load, predict."""
import hashlib
import http.server
import threading
from functools import partial

import pytest
import torch

import napari_sam2 as ns
from napari_sam2.engine import loading
from napari_sam2.model import OFFICIAL_CONFIGS, SAM2Model
from napari_sam2.testing.synthetic import nuclei_image
from napari_sam2.weights import CheckpointInfo


@pytest.fixture()
def served_tiny(tmp_path, monkeypatch):
    """A random-weight sam2.1_hiera_tiny file served on 127.0.0.1, registered under its official name."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    root = tmp_path / "www"
    root.mkdir()
    torch.manual_seed(0)
    torch.save({"model": SAM2Model(OFFICIAL_CONFIGS["sam2.1_hiera_tiny"]).state_dict()}, root / "sam2.1_hiera_tiny.pt")
    data = (root / "sam2.1_hiera_tiny.pt").read_bytes()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    info = CheckpointInfo(
        "sam2.1_hiera_tiny", "sam2.1", "tiny", f"http://127.0.0.1:{server.server_port}/sam2.1_hiera_tiny.pt",
        hashlib.sha256(data).hexdigest(), len(data), "facebook/sam2.1-hiera-tiny",
    )
    monkeypatch.setattr(loading, "checkpoint_info", lambda name: info)
    yield info
    server.shutdown()
    server.server_close()


def test_load_by_name_downloads_once_and_predicts(served_tiny, tmp_path):
    progress = []
    model = ns.load_model("sam2.1_hiera_tiny", cache_dir=tmp_path / "cache", progress=lambda done, total: progress.append(done))
    assert (tmp_path / "cache" / "sam2.1_hiera_tiny.pt").is_file()
    assert progress[-1] == served_tiny.num_bytes
    assert model.cfg.name == "sam2.1_hiera_tiny" and not model.training
    predictor = ns.ImagePredictor(model)
    image, labels = nuclei_image(128, 128, 3, seed=0)
    predictor.set_image(image)
    assert predictor.predict(points=[[64, 64]], labels=[1]).masks.shape == (3, 128, 128)


def test_unknown_name_lists_the_official_ones():
    with pytest.raises(ValueError, match="sam2.1_hiera_large"):
        ns.load_model("sam3_hiera_huge")


def test_missing_embedded_model_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setattr(loading, "embedded_model_path", lambda: tmp_path / "none.pt")
    with pytest.raises(FileNotFoundError, match="official checkpoint by name"):
        ns.load_model()
