"""Intensities prepared per patient volume, as Buda et al.'s code does it: clipped to the volume's 10th-99th
percentile, then z-scored per channel over the volume (nnU-Net z-scores each MRI volume too, without the
clip). MRI intensities have no fixed scale: the same tissue is brighter in one scan than in another, so
dividing by 255 leaves that difference in.

The statistics are computed once per patient from the volume's slices (``volume_table``) and applied to each
slice by the input pipeline (``pipeline.make_dataset(..., volumes=...)``). With ``crop`` the table also holds
each volume's square around the brain (``brain_box``), which the pipeline cuts out before it resizes.
"""
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .data import read_slice

PERCENTILES = (10, 99)  # intensities are clipped to these percentiles of the volume
STATS = ["low", "high", *(f"{kind}_{c}" for kind in ("mean", "std") for c in range(3))]
BRAIN_SHARE = 0.1  # voxels brighter than this share of the volume's maximum count as brain (Buda et al.'s crop)
BOX = ["top", "left", "side", "height", "width"]  # the square around the brain, and the slices' own size


def intensity_stats(volume, percentiles=PERCENTILES):
    """The volume's clip range (low, high) and, after clipping and scaling to [0, 1], each channel's mean
    and standard deviation: what the pipeline applies to each of its slices."""
    low, high = (float(v) for v in np.percentile(volume, percentiles))
    high = max(high, low + 1.0)  # a blank volume keeps a usable range
    scaled = np.clip((volume.astype(np.float32) - low) / (high - low), 0, 1)
    mean = scaled.mean(axis=(0, 1, 2))
    std = np.maximum(scaled.std(axis=(0, 1, 2)), 1e-3)
    return dict(zip(STATS, [low, high, *mean.tolist(), *std.tolist()]))


def brain_box(volume, share=BRAIN_SHARE):
    """The square around the voxels of a volume (N, H, W, C) brighter than ``share`` of its maximum, centred on
    them, in pixels (``BOX``); it may reach past the slice, where the crop pads with 0. A blank volume keeps the
    whole slice."""
    height, width = volume.shape[1:3]
    above = volume.max(axis=(0, 3)) > share * volume.max()
    if not above.any():
        return dict(zip(BOX, (0, 0, max(height, width), height, width)))
    rows, cols = np.flatnonzero(above.any(axis=1)), np.flatnonzero(above.any(axis=0))
    tall, wide = rows[-1] + 1 - rows[0], cols[-1] + 1 - cols[0]
    side = max(tall, wide)
    return dict(zip(BOX, (int(rows[0] - (side - tall) // 2), int(cols[0] - (side - wide) // 2), int(side),
                          height, width)))


def volume_table(slices, progress=True, crop=False):
    """One row per patient: its intensity statistics (``STATS``) and, with ``crop``, its ``brain_box``, read
    from its slices."""
    rows = {}
    for patient, part in tqdm(slices.groupby("patient", sort=False), desc="Measuring volumes", unit="patient",
                              disable=not progress):
        volume = np.stack([read_slice(path) for path in part.image_path])
        rows[patient] = {**intensity_stats(volume), **(brain_box(volume) if crop else {})}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("patient")
