"""Shared fixtures: a tiny synthetic data folder in the Kaggle layout, the bundled sample, the full set."""
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from lgg_utils import artifacts, data, training

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "lgg" / "kaggle_3m"


def write_slice(folder, case, n, tumour=False, size=256):
    """Write ``<case>_<n>.tif`` (RGB gradient, deflate) and its mask; the mask has a square tumour when ``tumour``."""
    ramp = np.linspace(0, 200, size, dtype=np.uint8)
    image = np.stack([np.add.outer(ramp, ramp // 4).astype(np.uint8) + c * 10 + n for c in range(3)], axis=-1)
    mask = np.zeros((size, size), np.uint8)
    if tumour:
        mask[size // 4: size // 2, size // 4: size // 2] = 255
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(folder / f"{case}_{n}.tif", compression="tiff_deflate")
    Image.fromarray(mask).save(folder / f"{case}_{n}_mask.tif", compression="tiff_deflate")


def make_kaggle_dir(root, patients=4, slices=12, size=256):
    """A data folder of ``patients`` patients x ``slices`` slices; slices 4-7 of each patient show a tumour."""
    cases = [f"TCGA_{site}_{1000 + i}_20000101" for i, site in zip(range(patients), ["CS", "DU", "FG", "HT"] * 9)]
    for case in cases:
        for n in range(1, slices + 1):
            write_slice(root / case, case, n, tumour=4 <= n <= 7, size=size)
    lines = ["Patient,age_at_initial_pathologic"] + [f"{case[:12]},{40 + i}" for i, case in enumerate(cases)]
    (root / "data.csv").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture
def kaggle_dir(tmp_path):
    """A fresh synthetic data folder in the Kaggle layout (4 patients x 12 slices)."""
    return make_kaggle_dir(tmp_path / "kaggle_3m")


@pytest.fixture(scope="session")
def sample_slices():
    """The slice table of the bundled sample."""
    return data.slice_table(data.SAMPLE_DIR, progress=False)


@pytest.fixture(scope="session")
def full_data_dir():
    """The whole data set (LGG_DATA_DIR, else ../shared/lgg/kaggle_3m); the test is skipped without it."""
    path = Path(os.environ.get("LGG_DATA_DIR") or SHARED_DATA)
    if not path.is_dir():
        pytest.skip("the full data set is not here: set LGG_DATA_DIR to run these tests")
    return path


def save_as_trained(folder, name, model):
    """Save a stand-in ``model`` as the artifact of model ``name`` in ``folder``, fingerprinted with the current
    code of its recipe (what every loader checks)."""
    history = pd.DataFrame({"loss": [1.0]}).rename_axis("epoch")
    artifacts.save(Path(folder) / name, model, history, artifacts.fingerprint(training.RECIPES[name]))
