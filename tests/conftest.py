import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

from napari_sam2.model import SAM2Model  # noqa: E402
from tiny_config import MICRO_TEST_CONFIG  # noqa: E402


@pytest.fixture(scope="session")
def micro_model() -> SAM2Model:
    torch.manual_seed(0)
    return SAM2Model(MICRO_TEST_CONFIG).eval()
