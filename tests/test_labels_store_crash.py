"""A process killed while it writes labels leaves every finished frame readable and intact,
and no frame half-written (the store writes each frame's chunk to a new file, then renames it)."""
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from napari_sam2.storage import LabelsStore

FRAMES, SIDE = 400, 512
WRITER = f"""
import sys
import numpy as np
from napari_sam2.storage import LabelsStore

store = LabelsStore.create(sys.argv[1], ({FRAMES}, {SIDE}, {SIDE}))
for t in range({FRAMES}):
    store.write_frame(t, np.random.default_rng(t).integers(1, 60, ({SIDE}, {SIDE}), dtype=np.uint32))
    print(t, flush=True)
"""


def expected_frame(t: int) -> np.ndarray:
    return np.random.default_rng(t).integers(1, 60, (SIDE, SIDE), dtype=np.uint32)


@pytest.mark.parametrize("kill_after", [3, 17, 41])
def test_a_kill_while_writing_leaves_every_finished_frame_intact(tmp_path, kill_after):
    path = tmp_path / "masklets.zarr"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    finished = []
    for line in writer.stdout:
        finished.append(int(line))
        if len(finished) > kill_after:
            os.kill(writer.pid, signal.SIGKILL)  # most likely in the middle of the next frame's write
            break
    writer.wait(timeout=60)
    assert writer.returncode == -signal.SIGKILL, "the writer ended before it was killed: make FRAMES larger"

    store = LabelsStore.open(path, mode="r")
    for t in finished:
        np.testing.assert_array_equal(store.read_frame(t), expected_frame(t))
    for t in range(len(finished), FRAMES):  # the frame in flight and all later ones: empty or whole
        frame = store.read_frame(t)
        assert not frame.any() or np.array_equal(frame, expected_frame(t)), f"frame {t} is half-written"
