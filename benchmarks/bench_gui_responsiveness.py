"""How long napari's event loop stalls, and how long until the result shows, for the widget's
actions with an official-size model (the table of issue 22). Random weights, the sample time-lapse
(its first --frames frames), a 50 ms QTimer recording the gaps between its ticks.

    xvfb-run -a .venv/bin/python benchmarks/bench_gui_responsiveness.py --frames 6 --threads 2

Not a test: timings depend on the machine and its load."""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile
import torch


class LoopWatch:
    """Records when a 50 ms QTimer fires: the longest gap between ticks is the longest freeze."""

    def __init__(self, app, period_ms: int = 50):
        from qtpy.QtCore import QTimer

        self.app, self.ticks = app, []
        self.timer = QTimer()
        self.timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))
        self.timer.start(period_ms)

    def run_until(self, done, timeout: float = 600.0) -> float:
        """Process events until done(); returns when it became true (perf_counter)."""
        end = time.perf_counter() + timeout
        while not done():
            if time.perf_counter() > end:
                raise TimeoutError("the action did not finish in time")
            self.app.processEvents()
            time.sleep(0.002)
        return time.perf_counter()

    def longest_gap(self, since: float, until: float, after_first: bool = False) -> float:
        """after_first: leave out the first gap (napari drawing what the action changed, such
        as a new point: vispy builds its shaders then), keeping the gaps while the result is computed."""
        ticks = [since, *[t for t in self.ticks if since < t < until], until]
        gaps = np.diff(ticks)[1:] if after_first else np.diff(ticks)
        return float(gaps.max()) if len(gaps) else 0.0


def centroid(labels: np.ndarray, cell: int) -> tuple[float, float]:
    rows, cols = np.nonzero(labels == cell)
    return float(rows.mean()), float(cols.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny", help="official configuration (random weights): tiny, small, ...")
    parser.add_argument("--frames", type=int, default=6, help="frames of the sample time-lapse to track")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from qtpy.QtWidgets import QApplication

    import napari
    from napari_sam2._napari.sample_data import sample_path
    from napari_sam2._napari.widget import TrackingWidget
    from napari_sam2.model import SAM2Model, sam21_config

    torch.manual_seed(0)
    model = SAM2Model(sam21_config(args.model)).eval()
    frames = tifffile.imread(sample_path("timelapse.tif"))[: args.frames]
    truth = tifffile.imread(sample_path("timelapse_labels.tif"))[: args.frames]
    cells = [c for c in np.unique(truth[0]) if c and (truth[-2] == c).any()][:3]

    viewer = napari.Viewer(show=True)
    app = QApplication.instance()
    viewer.add_image(frames, name="timelapse")
    viewer.dims.set_current_step(0, 0)
    widget = TrackingWidget(viewer, model=model)
    viewer.window.add_dock_widget(widget)
    widget.store_edit.setText(str(Path(tempfile.mkdtemp()) / "timelapse.zarr"))
    watch = LoopWatch(app)
    busy = (lambda: widget.busy) if hasattr(widget, "busy") else (lambda: widget.runner.running)
    rows = []

    def click(frame: int, cell: int, label: str) -> None:
        row, col = centroid(truth[frame], cell)
        before = time.perf_counter()
        obj_id = widget.new_object()
        widget.session.points_layer.add([frame, row, col])
        done = watch.run_until(lambda: obj_id in widget.session.tracker.object_ids and not busy())
        rows.append((label, watch.longest_gap(before, done), watch.longest_gap(before, done, after_first=True),
                     f"{done - before:.1f} s"))

    before = time.perf_counter()
    widget.start_button.click()  # frame 0, on screen, starts being encoded in the background
    app.processEvents()  # the new layers are drawn: only then can the user click
    done = time.perf_counter()
    rows.append(("Start (the session's layers added and drawn; no model call)", watch.longest_gap(before, done),
                 float("nan"), f"{done - before:.1f} s"))
    click(0, cells[0], "click right after Start")
    last = args.frames - 2
    viewer.dims.set_current_step(0, last)
    click(last, cells[1], "move the time slider to a new frame and click at once")
    watch.run_until(lambda: last in widget.session.tracker.features and widget.session.prefetcher.worker is None)
    click(last, cells[2], "click on a frame whose features are ready")

    written = []
    refresh = widget.runner.on_frame
    widget.runner.on_frame = lambda frame: (written.append(time.perf_counter()), refresh(frame))
    before = time.perf_counter()
    widget.forward_button.click()
    done = watch.run_until(lambda: not busy() and len(written) == args.frames)
    per_frame = np.diff(written).mean() if len(written) > 1 else float("nan")
    rows.append((f"propagation ({len(cells)} objects, {args.frames} frames)", watch.longest_gap(before, done),
                 watch.longest_gap(before, done, after_first=True),
                 f"first frame {written[0] - before:.1f} s, then {per_frame:.1f} s per frame"))

    written.clear()
    widget.forward_button.click()  # again from frame 0; stopped once the first frame is written
    watch.run_until(lambda: len(written) >= 1)
    stopped = time.perf_counter()
    widget.stop()
    done = watch.run_until(lambda: not busy())
    rows.append(("Stop during propagation", watch.longest_gap(stopped, done),
                 watch.longest_gap(stopped, done, after_first=True),
                 f"stopped {done - stopped:.1f} s after Stop, {len(written)} frame(s) written"))

    print(f"\nsam2.1_hiera_{args.model} at {model.cfg.image_size} (random weights), {args.threads} torch threads, "
          f"{frames.shape[1]}x{frames.shape[2]} frames\n")
    print("| action | longest freeze | longest after the first redraw | result after |\n|---|---|---|---|")
    for label, gap, later, result in rows:
        print(f"| {label} | {gap * 1000:.0f} ms | {later * 1000:.0f} ms | {result} |")
    widget.shut_down()
    viewer.close()


if __name__ == "__main__":
    main()
