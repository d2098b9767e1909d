"""Evaluation of a segmenter: per-slice scores, and their means over all slices and over tumour slices.

Scores follow the convention in ``metrics``: a slice with no tumour predicted empty scores 1.
"""
import numpy as np
import pandas as pd

from . import metrics
from .pipeline import make_dataset


def predict(model, slices, size, batch_size=32):
    """True masks and predicted probabilities (N, size, size, 1) for the rows of a slice table, in order."""
    data = make_dataset(slices, size, batch_size)
    truth = np.concatenate([masks.numpy() for _, masks in data])
    return truth, model.predict(data, verbose=0)


def slice_scores(slices, truth, probabilities):
    """One row per slice: patient, slice, whether it has a tumour, pixel counts, Dice, IoU and Tversky."""
    true_pixels = (truth > metrics.THRESHOLD).reshape(len(truth), -1).sum(axis=1)
    pred_pixels = (probabilities > metrics.THRESHOLD).reshape(len(probabilities), -1).sum(axis=1)
    return pd.DataFrame({
        "patient": slices.patient.to_numpy(), "slice": slices.slice.to_numpy(),
        "tumour": true_pixels > 0, "true_pixels": true_pixels, "pred_pixels": pred_pixels,
        "dice": metrics.dice(truth, probabilities), "iou": metrics.iou(truth, probabilities),
        "tversky": metrics.tversky_score(truth, probabilities)})


def summarise(scores):
    """Mean Dice, IoU and Tversky score over all slices and over tumour slices only."""
    parts = {"all slices": scores, "tumour slices": scores[scores.tumour]}
    return pd.DataFrame({name: part[["dice", "iou", "tversky"]].mean() for name, part in parts.items()}).T \
        .assign(slices=[len(part) for part in parts.values()])
