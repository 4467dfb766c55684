"""A run stopped from outside: SIGTERM (kill, timeout, a cluster's time limit) ends it as Ctrl-C
does, leaving nothing half-written; SIGKILL (the system out of memory) cannot be caught, and what
it leaves is removed by the next run of the same output on the same machine."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tifffile

from napari_sam2.engine.loading import embedded_model_path
from napari_sam2.simulation import EVALUATION_SEEDS, SimulationConfig, simulate_timelapse
from napari_sam2.storage import LabelsStore
from napari_sam2.storage.output_place import WRITER_FILE, partials_of, written_beside

HOLD_THE_PLACE = """
import sys, time
from pathlib import Path
from napari_sam2.storage.output_place import written_beside
with written_beside(Path(sys.argv[1]), lambda: None) as place:
    place.write_text("half")
    print("writing", flush=True)
    time.sleep(120)
"""


def _writer(path):
    """A process that holds `path`'s hidden folder open, as a run does while it writes."""
    process = subprocess.Popen([sys.executable, "-c", HOLD_THE_PLACE, str(path)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "writing"
    return process


def test_what_a_writer_killed_outright_left_is_removed_by_the_next_and_a_live_ones_is_kept(tmp_path):
    out = tmp_path / "cells.csv"
    killed, alive = _writer(out), _writer(out)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    (tmp_path / ".cells.csv.abc.partial").mkdir()  # no note of its writer (another tool, an older version)
    assert len(partials_of(out)) == 3
    try:
        with written_beside(out, lambda: None) as place:
            place.write_text("done")
        left = partials_of(out)
        assert len(left) == 2 and (tmp_path / ".cells.csv.abc.partial") in left  # the unknown one stays
        noted = [folder for folder in left if (folder / WRITER_FILE).exists()]
        assert [int((folder / WRITER_FILE).read_text().split()[1]) for folder in noted] == [alive.pid]
        assert out.read_text() == "done"
    finally:
        alive.kill()
        alive.wait()


@pytest.mark.slow
@pytest.mark.skipif(not embedded_model_path().is_file(), reason="the embedded model is not here")
def test_track_stopped_by_sigterm_leaves_nothing_and_after_sigkill_the_next_run_clears_what_was_left(tmp_path):
    sim = simulate_timelapse(SimulationConfig(height=128, width=128, num_frames=40), EVALUATION_SEEDS + 660)
    tifffile.imwrite(tmp_path / "movie.tif", sim.frames, imagej=True, metadata={"axes": "TYX"})
    out = tmp_path / "cells.zarr"
    command = [sys.executable, "-m", "napari_sam2", "track", str(tmp_path / "movie.tif"), "--auto", "--out", str(out)]

    def started_then(stop):
        run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 300
        while not any((folder / "cells.zarr" / "zarr.json").exists() for folder in partials_of(out)):
            assert run.poll() is None and time.time() < deadline, "the run ended before it wrote"
            time.sleep(0.1)
        run.send_signal(stop)
        return run.wait(timeout=120)

    assert started_then(signal.SIGTERM) == 128 + signal.SIGTERM
    assert sorted(os.listdir(tmp_path)) == ["movie.tif"]  # no store, nothing hidden left
    assert started_then(signal.SIGKILL) == -signal.SIGKILL
    assert len(partials_of(out)) == 1 and not out.exists()  # SIGKILL cannot be caught
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr
    assert sorted(os.listdir(tmp_path)) == ["cells.zarr", "movie.tif"]
    labels = LabelsStore.open(out, mode="r").array[:]
    assert labels.shape == sim.frames.shape and np.unique(labels[0]).size > 5
