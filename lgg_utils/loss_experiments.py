"""The loss chapter's experiments: how each loss answers false positives and false negatives on a small
synthetic tumour, the Tversky loss over its weights, and one segmenter trained with each loss."""
import dataclasses
import re

import numpy as np
import pandas as pd
from keras import ops
from tqdm.auto import tqdm

from . import scoring, losses, training

LOSSES = {"BCE": losses.bce, "Dice": losses.dice_loss, "BCE + Dice": losses.bce_dice_loss,
          "Tversky": losses.tversky_loss, "focal Tversky": losses.focal_tversky_loss}
# The controlled experiment: the losses above, plus a Tversky loss that weights false positives more.
EXPERIMENT = {**LOSSES, "Tversky, beta 0.3": losses.tversky_loss_with(0.7, 0.3)}


def disc(pixels, tumour=60, size=64, inside=0.9, outside=0.001):
    """A round tumour of ``tumour`` pixels and a prediction covering the ``pixels`` pixels nearest its
    centre (probability ``inside`` there, ``outside`` elsewhere), as batches of one (1, size, size, 1)."""
    rows, cols = np.mgrid[:size, :size] - (size - 1) / 2
    rank = np.hypot(rows, cols).ravel().argsort(kind="stable").argsort().reshape(size, size)
    truth = (rank < tumour).astype("float32")
    prediction = np.where(rank < pixels, inside, outside).astype("float32")
    return truth[None, ..., None], prediction[None, ..., None]


def loss_response(loss_fns=None, tumour=60, errors=range(0, 61, 5)):
    """Each loss as the prediction of a ``tumour``-pixel tumour grows past it (false positives) or
    shrinks inside it (false negatives): one row per error kind, pixel count and loss."""
    rows = []
    for kind, sign in (("false positives", 1), ("false negatives", -1)):
        for k in (k for k in errors if sign > 0 or k <= tumour):
            truth, prediction = disc(tumour + sign * k, tumour)
            rows += [{"error": kind, "pixels": k, "loss": name, "value": float(ops.convert_to_numpy(fn(truth, prediction))[0])}
                     for name, fn in (loss_fns or LOSSES).items()]
    return pd.DataFrame(rows)


def tversky_grid(pixels, tumour=60, weights=np.round(np.linspace(0.1, 0.9, 9), 1)):
    """The Tversky loss of one prediction (covering ``pixels`` pixels of a ``tumour``-pixel tumour's
    neighbourhood) for every alpha (rows) and beta (columns)."""
    truth, prediction = disc(pixels, tumour)
    return pd.DataFrame([[float(ops.convert_to_numpy(losses.tversky_loss(truth, prediction, a, b))[0]) for b in weights]
                         for a in weights], index=pd.Index(weights, name="alpha"), columns=pd.Index(weights, name="beta"))


def slug(label):
    """A folder name for a loss label: 'BCE + Dice' -> 'bce_dice'."""
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")


def train_each_loss(slices, split, profile, folder, name="unet", epoch_share=0.5):
    """The same segmenter (same seed, data, epochs and patience) trained once per loss of ``EXPERIMENT``,
    each saved in ``folder/<loss>`` and reused while unchanged: a dict loss label -> (model, history)."""
    trained = {}
    for label, loss in tqdm(EXPERIMENT.items(), desc="Losses", unit="loss"):
        recipe = dataclasses.replace(training.RECIPES[name], loss=loss, epoch_share=epoch_share)
        model, history, _ = training.train_model(name, slices, split, profile, folder / slug(label), recipe)
        trained[label] = model, history
    return trained


def pixel_precision_recall(scores):
    """Precision and recall over all pixels of all slices (from the per-slice counts)."""
    tp, fp, fn = (scores[c].sum() for c in ("tp", "fp", "fn"))
    return {"precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1)}


def loss_table(trained, slices):
    """Per loss: Dice and IoU on tumour slices, Dice on all slices, pixel precision and recall."""
    rows = {}
    for label, (model, _) in trained.items():
        scores = scoring.slice_scores(slices, *scoring.predict(model, slices))
        means = scoring.slice_means(scores)
        rows[label] = {"dice, tumour slices": means.dice["tumour slices"], "iou, tumour slices": means.iou["tumour slices"],
                       "dice, all slices": means.dice["all slices"], **pixel_precision_recall(scores)}
    return pd.DataFrame(rows).T.rename_axis("loss")
