"""Run by test_napari_console.py in its own process: the console API, the time slider moved
(a feature worker starts), napari closed while that worker computes. Exits 0 unless closing
aborts the process."""
import sys
import time

import numpy as np
import torch
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QApplication

import napari
import napari_sam2 as ns
from napari_sam2.model import SAM2Model
from napari_sam2.testing.synthetic import moving_nuclei_video
from tiny_config import MICRO_TEST_CONFIG

torch.manual_seed(0)
frames, labels = moving_nuclei_video(8, 96, 128, 3)
viewer = napari.Viewer(show=True)
viewer.add_image(frames, name="cells")
rows, cols = np.nonzero(labels[0] == 1)
clicks = viewer.add_points(np.array([[0, rows.mean(), cols.mean()]]), name="my clicks")
session = ns.track_layers(viewer, "cells", points=clicks, model=SAM2Model(MICRO_TEST_CONFIG).eval(),
                          direction="forward", start=5, store=sys.argv[1])
prefetch, started = session.tracker.prefetch, []


def slow_prefetch(frame):
    started.append(frame)
    time.sleep(3.0)
    prefetch(frame)


def close_while_computing():
    if not started:
        QTimer.singleShot(20, close_while_computing)
        return
    viewer.close()
    print("computed at close:", 2 in session.tracker.features, flush=True)
    QApplication.instance().quit()  # the process ends at once, as napari's does


session.tracker.prefetch = slow_prefetch
QTimer.singleShot(100, lambda: viewer.dims.set_current_step(0, 2))
QTimer.singleShot(150, close_while_computing)
napari.run()
