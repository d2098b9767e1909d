"""Evaluation: a segmenter's per-slice scores and their means over all slices and over tumour slices
(a slice with no tumour predicted empty scores 1, as in ``metrics``), per-patient 3-D scores with a
bootstrap interval (at the model's size, or with the masks enlarged to the slices' stored size), and the
cascade; a classifier's accuracy, confusion counts and ROC AUC at a decision threshold chosen on the
training split.
"""
import numpy as np
import pandas as pd
import tensorflow as tf
from scipy import ndimage
from sklearn.metrics import (accuracy_score, classification_report, confusion_matrix, log_loss,
                             precision_recall_fscore_support, roc_auc_score)

from . import metrics
from .data import DataError
from .pipeline import box_rows, for_channels, make_dataset, uncrop

# The study's test results (Table I): the number each model chapter compares with.
STUDY = {"classifier": {"accuracy": 0.8893}, "unet": {"dice": 0.857, "iou": 0.750},
         "resunet": {"tversky": 0.8998}, "vgg19_unet": {"tversky": 0.8957}}
BUDA_PATIENT_DICE = 0.82  # Buda et al. (2019): mean Dice per patient volume, cross-validated by patient
CLASSIFIER_TARGETS = {"accuracy": 0.90, "auc": 0.95}  # the targets set for the laptop classifier on test before any run
CASCADE_SKIP = 0.1  # the cascade skips the segmenter where the classifier's tumour probability is below this


def predict(model, slices, batch_size=32, volumes=None, flip=False):
    """True masks and predicted probabilities (N, size, size, 1) for the rows of a slice table, in order, at
    the size the model takes (``volumes``: intensities per patient volume, as the model was trained; a table
    made with ``crop``: predicted on the square around the brain and put back in the whole slice, so every model
    is scored on the same masks); with ``flip``, the mean over each slice and its mirror image (mirrored back):
    test-time augmentation. A model that takes neighbouring slices gets them (``pipeline.for_channels``)."""
    data = make_dataset(for_channels(slices, model.input_shape[-1]), model.input_shape[1], batch_size, volumes=volumes)
    probabilities = model.predict(data, verbose=0)
    if flip:
        mirrored = model.predict(data.map(lambda x, y: (x[:, :, ::-1], y)), verbose=0)
        probabilities = (probabilities + mirrored[:, :, ::-1]) / 2
    boxes = box_rows(slices, volumes)
    if boxes[:, 2].any():
        probabilities, data = uncrop(probabilities, boxes), make_dataset(slices, model.input_shape[1], batch_size)
    return np.concatenate([masks.numpy() for _, masks in data]), probabilities


def stored_size(slices):
    """The side in pixels of a table's slices as stored (square and all alike: 256 in this data set), at which
    the published per-patient Dice is scored."""
    sides = set(slices.height) | set(slices.width)
    if len(sides) != 1:
        shapes = sorted(set(zip(slices.height, slices.width)))
        raise DataError(f"Scoring at the stored resolution needs square slices of one size; these are (height, width) "
                        f"{shapes}: score them at the model's size instead (without --native or native=True).")
    return int(sides.pop())


def upsampled(probabilities, side):
    """Probabilities predicted at a model's size (N, s, s, 1) resized (bilinear) to (N, side, side, 1), to be
    scored against the masks as stored rather than against masks shrunk to the model's size."""
    return tf.image.resize(probabilities, [side, side]).numpy()


def _overlaps(tp, fp, fn):
    """Dice, IoU and Tversky score from pixel counts (both masks empty = 1)."""
    return {"dice": metrics.tversky_from_counts(tp, fp, fn, 0.5, 0.5),
            "iou": metrics.tversky_from_counts(tp, fp, fn, 1.0, 1.0),
            "tversky": metrics.tversky_from_counts(tp, fp, fn)}


def slice_scores(slices, truth, probabilities):
    """One row per slice: patient, slice, whether it has a tumour, pixel counts, Dice, IoU and Tversky."""
    tp, fp, fn = metrics.confusion(truth, probabilities)
    return pd.DataFrame({
        "patient": slices.patient.to_numpy(), "slice": slices.slice.to_numpy(),
        "tumour": tp + fn > 0, "true_pixels": tp + fn, "pred_pixels": tp + fp, "tp": tp, "fp": fp, "fn": fn,
        **_overlaps(tp, fp, fn)})


def silent_dice(slices):
    """The mean Dice over a table's slices of a model that never finds a tumour: the share of tumour-free slices
    (an empty mask scores 1 on those, 0 on a tumour)."""
    return 1 - slices.tumour.mean()


def slice_means(scores):
    """Mean Dice, IoU and Tversky score over all slices and over tumour slices only, and ``pooled``: each
    score once from the pixel counts summed over all slices (one computation over the whole set, for which
    IoU = Dice / (2 - Dice) holds, as it does for the study's reported pair)."""
    parts = {"all slices": scores, "tumour slices": scores[scores.tumour]}
    means = pd.DataFrame({name: part[["dice", "iou", "tversky"]].mean() for name, part in parts.items()}).T
    means.loc["pooled"] = pd.Series(_overlaps(*(scores[c].sum() for c in ("tp", "fp", "fn"))), dtype=float)
    return means.assign(slices=[len(scores), int(scores.tumour.sum()), len(scores)])


def patient_scores(scores):
    """One row per patient, slices stacked back into the volume: 3-D Dice, IoU and Tversky from the pixel
    counts summed over the patient's slices (as Buda et al. report it)."""
    counts = scores.groupby("patient", sort=False)[["tp", "fp", "fn"]].sum()
    return counts.assign(slices=scores.groupby("patient", sort=False).size(),
                         **_overlaps(counts.tp, counts.fp, counts.fn))


def bootstrap_ci(values, level=0.95, resamples=2000, seed=0):
    """Percentile bootstrap confidence interval (low, high) of the mean of ``values``."""
    values = np.asarray(values, dtype=float)
    means = np.random.default_rng(seed).choice(values, (resamples, len(values))).mean(axis=1)
    return tuple(float(q) for q in np.quantile(means, [(1 - level) / 2, (1 + level) / 2]))


def largest_component(probabilities):
    """A patient's predicted volume (its slices in order, (N, H, W, 1)) reduced to its largest 3-D connected
    component (26-connected), as Buda et al. post-process: 1 inside it, 0 elsewhere; empty stays empty."""
    labels, count = ndimage.label(probabilities[..., 0] > metrics.THRESHOLD, structure=np.ones((3, 3, 3)))
    largest = 1 + np.argmax(np.bincount(labels.ravel())[1:]) if count else -1
    return (labels == largest)[..., None].astype(probabilities.dtype)


def slice_errors(scores):
    """Tumour slices predicted empty (missed) and tumour-free slices given a mask (false positives)."""
    return {"missed tumour slices": int((scores.tumour & (scores.pred_pixels == 0)).sum()),
            "false-positive slices": int((~scores.tumour & (scores.pred_pixels > 0)).sum())}


def gate(probabilities, tumour_probability, skip_below=None):
    """The cascade: the segmenter's masks where the classifier's tumour probability is at least
    ``skip_below`` (default ``CASCADE_SKIP``, read at each call), empty where it is confident there is no
    tumour (those slices need no segmenter)."""
    skip_below = CASCADE_SKIP if skip_below is None else skip_below
    keep = np.asarray(tumour_probability) >= skip_below
    return probabilities * keep[:, None, None, None], keep


def predict_tumour(model, slices, batch_size=32, volumes=None):
    """True labels (1 = tumour) and the classifier's tumour probabilities for the rows of a slice table
    (``volumes``: intensities per patient volume, as the model was trained)."""
    data = make_dataset(for_channels(slices, model.input_shape[-1]), model.input_shape[1], batch_size, target="label",
                        volumes=volumes)
    truth = np.concatenate([labels.numpy() for _, labels in data])
    return truth, model.predict(data, verbose=0)[:, 1]


def choose_threshold(truth, probability):
    """The decision threshold with the best accuracy on these slices; ties go nearest 0.5."""
    edges = np.unique(np.r_[0.0, probability, 1.0])
    candidates = np.r_[0.5, (edges[:-1] + edges[1:]) / 2]
    accuracy = np.array([np.mean((probability >= t) == truth) for t in candidates])
    best = candidates[accuracy == accuracy.max()]
    return float(best[np.argmin(abs(best - 0.5))])


def detection_scores(truth, predicted):
    """Accuracy, precision and recall of the tumour class and the confusion counts of yes/no calls."""
    tn, fp, fn, tp = confusion_matrix(truth, predicted, labels=[0, 1]).ravel()
    precision, recall, _, _ = precision_recall_fscore_support(truth, predicted, average="binary", zero_division=0)
    return {"accuracy": accuracy_score(truth, predicted), "precision": precision, "recall": recall,
            "tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)}


def classifier_scores(truth, probability, threshold=0.5):
    """``detection_scores`` at ``threshold``, with ROC AUC and cross-entropy (``log_loss``, threshold-free)."""
    auc = roc_auc_score(truth, probability) if 0 < truth.sum() < len(truth) else float("nan")
    return {"threshold": threshold, **detection_scores(truth, probability >= threshold), "auc": auc,
            "log_loss": log_loss(truth, probability, labels=[0, 1])}


def per_class(truth, predicted):
    """Precision, recall, F1 score and support of each class ("no tumour", "tumour") as a table, with the
    averages and, as scikit-learn prints it, the accuracy under F1 beside the number of slices."""
    report = classification_report(truth, predicted, labels=[0, 1], target_names=["no tumour", "tumour"],
                                   output_dict=True, zero_division=0)
    table = pd.DataFrame(report).T
    table.loc["accuracy"] = [np.nan, np.nan, report["accuracy"], len(truth)]  # the dict repeats it in every column
    return table


def study_table(name, results):
    """Our validation and test scores (all slices and tumour slices) beside the study's reported number."""
    if "test" in results and "accuracy" in results["test"]:
        keys = ("accuracy", "precision", "recall", "auc")
        table = pd.DataFrame({part: {k: results[part][k] for k in keys} for part in ("val", "test")})
    else:
        table = pd.concat({part: pd.DataFrame(results[part]).drop(columns="slices").T for part in ("val", "test")},
                          axis=1)
        table.columns = [f"{part}, {rows}" for part, rows in table.columns]
    return table.assign(study=pd.Series(STUDY[name]))
