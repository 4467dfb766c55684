"""Layering: imports point one way, and the library works without napari."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "napari_sam2"

# What each layer's files may import from this package (besides themselves). A layer is a folder,
# or a module file ("cli" is cli.py). _napari/ may import everything and is the only place for napari/Qt.
BELOW_SIMULATION = {"model", "weights", "engine", "storage"}
ALLOWED = {
    "model": set(),
    "_shipped_data": set(),  # where models/ and sample_data/ are, installed or in a checkout
    "weights": {"_shipped_data"},
    "engine": {"model", "weights"},
    "storage": {"model", "weights", "engine"},
    "simulation": set(),
    "evaluation": BELOW_SIMULATION | {"simulation"},
    "training": BELOW_SIMULATION | {"simulation", "evaluation"},
    "click_table": set(),  # the CLI's --points CSV forms
    "file_tracking": {"model", "weights", "engine", "storage", "click_table"},  # one file's job: track and batch
    "batch": BELOW_SIMULATION | {"evaluation", "click_table", "file_tracking"},  # many files on Dask
    "cli": BELOW_SIMULATION | {"simulation", "evaluation", "training", "click_table", "file_tracking", "batch"},
    # helpers of tests and benchmarks (nothing in the package imports them): synthetic data, the
    # reference as an oracle, the peer trackers our cell tracking is compared with
    "testing": BELOW_SIMULATION | {"simulation", "evaluation"},
}
NEVER_OUTSIDE_NAPARI = {"napari", "qtpy", "PyQt5", "PySide6", "magicgui", "superqt", "vispy"}
NEVER_IMPORTED = {  # third-party packages a layer may not import, besides napari and Qt
    "model": {"numpy", "zarr", "tifffile", "skimage"},  # pure torch: no array I/O
    "simulation": {"torch", "zarr", "tifffile", "skimage"},  # numpy and scipy only
}


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


def files_of(layer: str) -> list[Path]:
    folder = PACKAGE / layer
    files = sorted(folder.glob("*.py")) if folder.is_dir() else [PACKAGE / f"{layer}.py"]
    assert files and all(f.is_file() for f in files), f"no layer {layer} in {PACKAGE}"
    return files


def test_every_part_of_the_package_has_a_layer():
    parts = {p.stem for p in PACKAGE.iterdir() if (p.is_dir() and (p / "__init__.py").is_file()) or p.suffix == ".py"}
    assert parts - set(ALLOWED) == {"__init__", "__main__", "_napari"}


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_imports_point_one_way(layer):
    for path in files_of(layer):
        for name in imports_of(path):
            top, *rest = name.split(".")
            assert top not in NEVER_OUTSIDE_NAPARI | NEVER_IMPORTED.get(layer, set()), f"{path.name} imports {name}"
            if top == "napari_sam2" and rest:
                assert rest[0] in ALLOWED[layer] | {layer}, f"{path.name} imports {name}"


def test_library_imports_no_napari_or_qt():
    modules = ", ".join(f"napari_sam2.{layer}" for layer in sorted(ALLOWED))
    code = (
        f"import sys, napari_sam2, {modules};"
        "bad = [m for m in ('napari', 'qtpy', 'PyQt5', 'PySide6', 'magicgui') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
