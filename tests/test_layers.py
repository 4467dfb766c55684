"""Layering: imports point one way, and the library works without napari."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "napari_sam2"

# What each layer's files may import from this package (besides themselves).
ALLOWED = {
    "model": set(),
    "weights": set(),
    "engine": {"model", "weights"},
    "storage": {"model", "weights", "engine"},
    "training": {"model", "weights", "engine", "storage"},
}
NEVER_OUTSIDE_NAPARI = {"napari", "qtpy", "PyQt5", "PySide6", "magicgui", "superqt", "vispy"}
NO_IO_IN_MODEL = {"numpy", "zarr", "tifffile", "skimage", "napari"}


def imports_of(path: Path) -> set[str]:
    """Absolute module names imported by a file, with relative imports resolved."""
    tree = ast.parse(path.read_text())
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = parts[: len(parts) - node.level]
                names.add(".".join(base + ((node.module,) if node.module else ())))
            else:
                names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_imports_point_one_way(layer):
    for path in (PACKAGE / layer).glob("*.py"):
        for name in imports_of(path):
            top, *rest = name.split(".")
            assert top not in NEVER_OUTSIDE_NAPARI, f"{path.name} imports {name}"
            if layer == "model":
                assert top not in NO_IO_IN_MODEL, f"{path.name} imports {name}"
            if top == "napari_sam2" and rest:
                assert rest[0] in ALLOWED[layer] | {layer}, f"{path.name} imports {name}"


def test_library_imports_no_napari_or_qt():
    code = (
        "import sys, napari_sam2, napari_sam2.model, napari_sam2.engine, napari_sam2.weights, napari_sam2.storage;"
        "bad = [m for m in ('napari', 'qtpy', 'PyQt5', 'PySide6', 'magicgui') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
