"""The README's screenshot: the widget at work on the sample time-lapse.

    xvfb-run -a .venv/bin/python scripts/screenshot.py [--out docs/screenshot.png] [--model PATH]

Opens the sample time-lapse in napari, docks the tracking widget, clicks every cell of the first
frame (its centre, from the sample's ground truth), propagates forward with the chosen model
(default: the embedded one) and saves a picture of the whole window at a later frame.
"""
from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", message=".*PyQt5 backend is deprecated.*")  # the console line; its toast is closed below
import numpy as np  # noqa: E402
import tifffile  # noqa: E402
from scipy import ndimage  # noqa: E402

import napari  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def close_notifications(viewer, app) -> None:
    """Napari's toasts (such as its PyQt5 deprecation notice) would cover part of the picture."""
    from napari._qt.dialogs.qt_notification import NapariQtNotification

    for toast in viewer.window._qt_window.findChildren(NapariQtNotification):
        toast.close()
    for _ in range(5):
        app.processEvents()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshot.png"))
    parser.add_argument("--model", default=None, help="checkpoint file (default: the embedded model)")
    parser.add_argument("--frame", type=int, default=30, help="the frame shown")
    args = parser.parse_args()

    from napari_sam2 import load_model
    from napari_sam2._napari.console import propagate_now
    from napari_sam2._napari.widget import TrackingWidget

    viewer = napari.Viewer(show=True)
    viewer.window.resize(1400, 860)
    viewer.open_sample("napari-sam2", "timelapse")
    widget = TrackingWidget(viewer, model=load_model(args.model, device="cpu"))
    viewer.window.add_dock_widget(widget, name="SAM 2 tracking", area="right")
    widget.store_edit.setText(str(Path(tempfile.mkdtemp()) / "timelapse.masklets.zarr"))
    widget.start_session()
    session = widget.session
    first = tifffile.imread(ROOT / "sample_data" / "timelapse_labels.tif")[0]
    for obj_id in [int(i) for i in np.unique(first) if i > 0]:
        row, col = ndimage.center_of_mass(first == obj_id)
        session.labels_layer.selected_label = obj_id
        session.points_layer.add([0, row, col])
    propagate_now(session, "forward")
    viewer.dims.set_point(0, args.frame)
    viewer.layers.selection.active = session.labels_layer
    viewer.reset_view()
    app = napari.qt.get_qapp()
    for _ in range(5):
        app.processEvents()
    while session.prefetcher.worker is not None:  # moving to the frame may have started one
        app.processEvents()
        time.sleep(0.05)
    close_notifications(viewer, app)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    viewer.screenshot(args.out, canvas_only=False)
    print(f"saved {args.out}")
    viewer.close()  # the widget ends its workers as napari closes


if __name__ == "__main__":
    main()
