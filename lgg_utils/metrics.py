"""Overlap scores between binary masks, per slice, in NumPy (for evaluation); ``dice_metric`` is the
same Dice in Keras ops, logged during training.

Convention for empty masks: when truth and prediction are both empty the slice is scored 1 (a correct
"no tumour"); when only one is empty it is scored 0. Masks are thresholded at ``THRESHOLD`` first (read
at each call, so setting ``metrics.THRESHOLD`` in a chapter takes effect).
"""
import numpy as np
from keras import ops

THRESHOLD = 0.5
TVERSKY_ALPHA = 0.3  # weight of false positives
TVERSKY_BETA = 0.7  # weight of false negatives


def confusion(truth, pred, threshold=None):
    """True positive, false positive and false negative pixel counts per slice, each of shape (N,)."""
    threshold = THRESHOLD if threshold is None else threshold
    truth = np.asarray(truth) > threshold
    pred = np.asarray(pred) > threshold
    axes = tuple(range(1, truth.ndim))
    return ((truth & pred).sum(axes), (~truth & pred).sum(axes), (truth & ~pred).sum(axes))


def tversky_from_counts(tp, fp, fn, alpha=TVERSKY_ALPHA, beta=TVERSKY_BETA):
    """Tversky index TP / (TP + alpha FP + beta FN) from pixel counts; 1 where all counts are 0."""
    tp, fp, fn = (np.asarray(c, dtype=float) for c in (tp, fp, fn))
    denominator = tp + alpha * fp + beta * fn
    return np.where(denominator > 0, tp / np.maximum(denominator, 1e-12), 1.0)


def tversky_score(truth, pred, alpha=TVERSKY_ALPHA, beta=TVERSKY_BETA, threshold=None):
    """Tversky index TP / (TP + alpha FP + beta FN) per slice; 1 where both masks are empty."""
    return tversky_from_counts(*confusion(truth, pred, threshold), alpha, beta)


def dice(truth, pred, threshold=None):
    """Dice coefficient 2 TP / (2 TP + FP + FN) per slice; 1 where both masks are empty."""
    return tversky_score(truth, pred, 0.5, 0.5, threshold)


def iou(truth, pred, threshold=None):
    """Intersection over union TP / (TP + FP + FN) per slice; 1 where both masks are empty."""
    return tversky_score(truth, pred, 1.0, 1.0, threshold)


def dice_metric(y_true, y_pred):
    """Dice per slice of a batch in Keras ops (thresholded, both-empty = 1), for training logs."""
    axes = tuple(range(1, len(y_pred.shape)))
    truth, pred = (ops.cast(m > THRESHOLD, "float32") for m in (y_true, y_pred))
    tp = ops.sum(truth * pred, axis=axes)
    total = ops.sum(truth, axis=axes) + ops.sum(pred, axis=axes)
    return ops.where(total > 0, 2 * tp / ops.maximum(total, 1.0), 1.0)
