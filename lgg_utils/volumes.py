"""Intensities prepared per patient volume, as Buda et al.'s code (and nnU-Net, for MRI) does it: clipped to
the volume's 10th-99th percentile, then z-scored per channel over the volume. MRI intensities have no fixed
scale: the same tissue is brighter in one scan than in another, so dividing by 255 leaves that difference in.

The statistics are computed once per patient from the volume's slices (``volume_table``) and applied to each
slice by the input pipeline (``pipeline.make_dataset(..., volumes=...)``).
"""
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .data import read_slice

PERCENTILES = (10, 99)  # intensities are clipped to these percentiles of the volume
STATS = ["low", "high", *(f"{kind}_{c}" for kind in ("mean", "std") for c in range(3))]


def intensity_stats(volume, percentiles=PERCENTILES):
    """The volume's clip range (low, high) and, after clipping and scaling to [0, 1], each channel's mean
    and standard deviation: what the pipeline applies to each of its slices."""
    low, high = (float(v) for v in np.percentile(volume, percentiles))
    high = max(high, low + 1.0)  # a blank volume keeps a usable range
    scaled = np.clip((volume.astype(np.float32) - low) / (high - low), 0, 1)
    mean = scaled.mean(axis=(0, 1, 2))
    std = np.maximum(scaled.std(axis=(0, 1, 2)), 1e-3)
    return dict(zip(STATS, [low, high, *mean.tolist(), *std.tolist()]))


def volume_table(slices, progress=True):
    """One row per patient: its intensity statistics (``STATS``), read from its slices."""
    rows = {}
    for patient, part in tqdm(slices.groupby("patient", sort=False), desc="Measuring volumes", unit="patient",
                              disable=not progress):
        volume = np.stack([read_slice(path) for path in part.image_path])
        rows[patient] = intensity_stats(volume)
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("patient")
