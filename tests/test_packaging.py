"""What ships: a wheel carries the npe2 manifest, the model data and the sample data, also when it
is built from the sdist (as pip does when no wheel is published, and as conda-forge does)."""
import ast
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "napari_sam2"
SHIPPED = {
    "napari_sam2/napari.yaml",
    "napari_sam2/_models/checkpoints.tsv",
    "napari_sam2/_models/napari_sam2_micro.pt",
    "napari_sam2/_models/MODEL_CARD.md",
    "napari_sam2/_sample_data/zstack.tif",
    "napari_sam2/_sample_data/zstack_labels.tif",
    "napari_sam2/_sample_data/timelapse.tif",
}


def build(args: list[str], out: Path) -> Path:
    """Run `python -m build` without isolation (the shared venv has hatchling); the one artifact made."""
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "-q", "-o", str(out), *args],
                   check=True, capture_output=True)
    (artifact,) = out.iterdir()
    return artifact


def wheel_from_sdist(tmp_path: Path) -> Path:
    sdist = build(["--sdist", str(ROOT)], tmp_path / "sdist")
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    (source,) = (tmp_path / "unpacked").iterdir()
    return build(["--wheel", str(source)], tmp_path / "wheel")


def fresh_venv_with(wheel: Path, where: Path) -> Path:
    """A new virtual environment holding only `wheel`; its dependencies (torch...) are seen
    through a .pth file pointing at this interpreter's site-packages, not installed again."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    python = where / "bin" / "python"
    fresh_site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                check=True, capture_output=True, text=True).stdout.strip()
    (Path(fresh_site) / "shared_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                    "--no-index", str(wheel)], check=True, capture_output=True)
    return python


@pytest.mark.slow
def test_wheel_built_from_the_sdist_installs_and_runs(tmp_path):
    wheel = wheel_from_sdist(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    assert SHIPPED <= names, sorted(SHIPPED - names)
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "napari.manifest" in entry_points and "napari_sam2:napari.yaml" in entry_points
    assert "[console_scripts]" in entry_points and "napari-sam2 = napari_sam2.cli:main" in entry_points

    python = fresh_venv_with(wheel, tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the source tree must not be seen
    check = ("import napari_sam2, torch; from napari_sam2._napari.sample_data import sample_path;"
             "print(napari_sam2.__file__); print(sample_path('zstack.tif'));"
             "print(type(napari_sam2.load_model(device='cpu')).__name__)")
    lines = subprocess.run([str(python), "-c", check], check=True, capture_output=True, text=True,
                           env=env, cwd=tmp_path).stdout.split()
    package_file, sample, model_class = lines
    assert package_file.startswith(str(tmp_path / "venv")), package_file
    assert sample.startswith(str(tmp_path / "venv")), sample
    assert model_class == "SAM2Model"

    clicks = tmp_path / "clicks.csv"  # one nucleus: the run shows the install works, not how well it tracks
    clicks.write_text("obj_id,x,y\n2,29,165\n")
    console_script = python.with_name("napari-sam2")
    track = subprocess.run([str(console_script), "track", sample, "--points", str(clicks),
                            "--out", str(tmp_path / "out.zarr")], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert track.returncode == 0, track.stderr
    assert "tracked 1 objects through 24 frames" in track.stdout and (tmp_path / "out.zarr").is_dir()


def test_npe2_finds_the_manifest():
    import npe2

    manifest = npe2.PluginManifest.from_distribution("napari-sam2")
    assert manifest.name == "napari-sam2"


def third_party_distributions(files) -> set[str]:
    """The distributions (normalised names) that the top-level imports of `files` come from."""
    from importlib.metadata import packages_distributions

    owners = packages_distributions()
    found = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                tops = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                tops = [node.module.split(".")[0]]
            else:
                continue
            for top in tops:
                if top not in sys.stdlib_module_names and top != "napari_sam2":
                    found.update(canonical(d) for d in owners[top])
    return found


def canonical(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_declared_dependencies_are_the_imported_ones():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = {canonical(r) for r in project["dependencies"]}
    extras = {name: {canonical(r) for r in reqs} for name, reqs in project["optional-dependencies"].items()}
    files = list(PACKAGE.rglob("*.py"))
    library = third_party_distributions(f for f in files if not {"_napari", "testing"} & set(f.parts))
    assert library == core, f"imported but undeclared: {library - core}; declared but unused: {core - library}"
    plugin = third_party_distributions(f for f in files if "_napari" in f.parts) - core
    assert plugin == extras["napari"], (
        f"imported but undeclared: {plugin - extras['napari']}; declared but unused: {extras['napari'] - plugin}")
    # napari_sam2.testing serves the tests only: what it imports comes with the test extra
    for_tests = third_party_distributions(f for f in files if "testing" in f.parts)
    assert for_tests <= core | extras["napari"] | extras["test"], for_tests - core - extras["napari"] - extras["test"]
