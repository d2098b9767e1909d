"""Patient-level train/validation/test splits: no patient's slices are ever on both sides.

As in the study: 15% of patients for test, then 10% of the rest for validation. Patients with and
without tumour are split separately (stratified), so each split holds tumour-bearing patients.
"""
from pathlib import Path

import numpy as np
import pandas as pd

TEST_FRACTION = 0.15
VAL_FRACTION = 0.10  # of the patients left after the test split
SPLITS = ("train", "val", "test")


def _take(count, fraction):
    """How many of ``count`` items make ``fraction`` (rounded half up, at least one when count > 1)."""
    return min(count - 1, max(1, int(np.floor(count * fraction + 0.5)))) if count > 1 else 0


def split_patients(patients, seed=42, test_fraction=TEST_FRACTION, val_fraction=VAL_FRACTION):
    """A Series patient -> 'train' | 'val' | 'test', stratified by whether the patient has a tumour."""
    has_tumour = patients["tumour_slices"] > 0
    if has_tumour.sum() < 3:
        raise ValueError(f"Need at least 3 patients with a tumour to split by patient; found {has_tumour.sum()}. "
                         "Point LGG_DATA_DIR at a larger part of the data set.")
    rng = np.random.default_rng(seed)
    split = pd.Series("train", index=patients.index, name="split")
    for group in (patients.index[has_tumour], patients.index[~has_tumour]):
        order = rng.permutation(sorted(group))
        n_test = _take(len(order), test_fraction)
        n_val = _take(len(order) - n_test, val_fraction)
        split[order[:n_test]] = "test"
        split[order[n_test:n_test + n_val]] = "val"
    return split


def split_rows(slices, split, name):
    """The rows of a slice table whose patient is in split ``name`` ('train', 'val' or 'test'), renumbered."""
    return slices[slices.patient.map(split) == name].reset_index(drop=True)


def split_table(patients, split):
    """Patients, slices and tumour slices per split (a table for the reader)."""
    table = patients.assign(split=split).groupby("split").agg(
        patients=("slices", "size"), slices=("slices", "sum"), tumour_slices=("tumour_slices", "sum"))
    table = table.reindex(list(SPLITS))
    table["tumour_share"] = table.tumour_slices / table.slices
    return table


def save_splits(split, path, overwrite=False):
    """Write the split CSV (patient, split); refuse to replace a different one unless ``overwrite``."""
    path = Path(path)
    frame = split.rename_axis("patient").reset_index().sort_values("patient", ignore_index=True)
    if path.exists() and not overwrite:
        if pd.read_csv(path).equals(frame):
            return path
        raise FileExistsError(f"{path} already holds a different split (of other patients). Delete it, or "
                              "pass overwrite=True, to replace it; models trained on the old split go stale.")
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def load_splits(path):
    """Read a split CSV written by ``save_splits`` as a Series patient -> split."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No split file at {path}: run the data chapter (or make_splits) first.")
    return pd.read_csv(path).set_index("patient")["split"]


def make_splits(patients, path, seed=42):
    """Split the patients, save the CSV at ``path`` (keeping an identical existing one) and return the split."""
    split = split_patients(patients, seed=seed)
    save_splits(split, path)
    return split


def course_data(profile, data_dir, progress=False):
    """The slice table of the profile's patients and their split (as saved by chapter 1, or made now)."""
    from .config import artifacts_dir
    from .data import limit_patients, patient_table, slice_table

    slices = limit_patients(slice_table(data_dir, progress=progress), profile.patients, seed=profile.patient_seed)
    return slices, make_splits(patient_table(slices), artifacts_dir(profile) / "splits.csv", seed=profile.patient_seed)


def neighbour_leak(slices, held_out):
    """Share of held-out slices (``held_out``: a boolean per row) with a neighbour, slice n-1 or n+1 of the
    same patient, that is not held out: what a split lets the model see of its test slices."""
    held_out = np.asarray(held_out, dtype=bool)
    rest = set(zip(slices.case[~held_out], slices.slice[~held_out]))
    held = slices[held_out]
    return float(np.mean([(c, n - 1) in rest or (c, n + 1) in rest for c, n in zip(held.case, held.slice)]))


def slice_level_leak(slices, test_fraction=TEST_FRACTION, seed=42):
    """``neighbour_leak`` when slices rather than patients are split at random: what a slice-level split leaks."""
    return neighbour_leak(slices, np.random.default_rng(seed).random(len(slices)) < test_fraction)


def _correlation(a, b):
    """Pearson correlation of two images' pixels (NaN when either image is blank)."""
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    scale = np.sqrt((a @ a) * (b @ b))
    return float(a @ b / scale) if scale > 0 else np.nan


def neighbour_correlations(slices, flair, seed=42):
    """FLAIR correlation of each slice with the next slice of its patient, and with the slice at the same
    relative depth of a random other patient. ``flair`` is (N, H, W), aligned with the rows of ``slices``."""
    rng = np.random.default_rng(seed)
    starts = slices.groupby("case").indices
    cases = sorted(starts)
    rows = []
    for case in cases:
        rows_of = starts[case]
        others = [c for c in cases if c != case]
        for k, (i, j) in enumerate(zip(rows_of[:-1], rows_of[1:])):
            other = starts[others[rng.integers(len(others))]]
            same_depth = other[int(round(k / (len(rows_of) - 1) * (len(other) - 1)))]
            rows.append(("next slice, same patient", _correlation(flair[i], flair[j])))
            rows.append(("same depth, other patient", _correlation(flair[i], flair[same_depth])))
    return pd.DataFrame(rows, columns=["pair", "correlation"]).dropna()
