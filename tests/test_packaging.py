"""An installed wheel carries the npe2 manifest and the models/ data, not only a checkout."""
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_manifest_and_model_registry(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
    )
    (wheel,) = tmp_path.glob("napari_sam2-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "napari_sam2/napari.yaml" in names
    assert "napari_sam2/_models/checkpoints.tsv" in names
    assert "napari_sam2/_models/napari_sam2_micro.pt" in names and "napari_sam2/_models/MODEL_CARD.md" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "napari.manifest" in text and "napari_sam2:napari.yaml" in text
    assert "[console_scripts]" in text and "napari-sam2 = napari_sam2.cli:main" in text  # issue 16


def test_npe2_finds_the_manifest():
    import npe2

    manifest = npe2.PluginManifest.from_distribution("napari-sam2")
    assert manifest.name == "napari-sam2"
