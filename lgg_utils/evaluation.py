"""Evaluation: a segmenter's per-slice scores and their means over all slices and over tumour slices
(a slice with no tumour predicted empty scores 1, as in ``metrics``); a classifier's accuracy, confusion
counts and ROC AUC at a decision threshold chosen on the validation split.
"""
import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, log_loss, roc_auc_score

from . import metrics
from .pipeline import make_dataset

# The study's test results (Table I): the number each model chapter compares with.
STUDY = {"classifier": {"accuracy": 0.8893}, "unet": {"dice": 0.857, "iou": 0.750},
         "resunet": {"tversky": 0.8998}, "vgg19_unet": {"tversky": 0.8957}}


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


def predict_tumour(model, slices, size, batch_size=32):
    """True labels (1 = tumour) and the classifier's tumour probabilities for the rows of a slice table."""
    data = make_dataset(slices, size, batch_size, target="label")
    truth = np.concatenate([labels.numpy() for _, labels in data])
    return truth, model.predict(data, verbose=0)[:, 1]


def choose_threshold(truth, probability):
    """The decision threshold with the best accuracy on these (validation) slices; ties go nearest 0.5."""
    edges = np.unique(np.r_[0.0, probability, 1.0])
    candidates = np.r_[0.5, (edges[:-1] + edges[1:]) / 2]
    accuracy = np.array([np.mean((probability >= t) == truth) for t in candidates])
    best = candidates[accuracy == accuracy.max()]
    return float(best[np.argmin(abs(best - 0.5))])


def classifier_summary(truth, probability, threshold=0.5):
    """Accuracy, confusion counts, precision, recall (of the tumour class), ROC AUC and cross-entropy
    (``log_loss``, threshold-free) at ``threshold``."""
    tn, fp, fn, tp = confusion_matrix(truth, probability >= threshold, labels=[0, 1]).ravel()
    auc = roc_auc_score(truth, probability) if 0 < truth.sum() < len(truth) else float("nan")
    return {"threshold": threshold, "accuracy": (tp + tn) / len(truth), "precision": tp / max(tp + fp, 1),
            "recall": tp / max(tp + fn, 1), "auc": auc, "log_loss": log_loss(truth, probability, labels=[0, 1]),
            "tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)}


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
