"""Segmentation losses on predicted probabilities, as Keras-compatible functions ``loss(y_true, y_pred)``.

Soft versions of the overlap scores in ``metrics``: products of probabilities replace pixel counts, and
a smoothing term of 1 keeps empty masks finite (an empty truth predicted empty costs 0). Keras' own Dice
and Tversky losses are not used: without smoothing, a tumour-free slice predicted empty costs them the
maximum loss of 1, and most slices have no tumour.
"""
from keras import config, ops

from .metrics import TVERSKY_ALPHA, TVERSKY_BETA

SMOOTH = 1.0
FOCAL_GAMMA = 0.75


def soft_tversky_index(y_true, y_pred, alpha=TVERSKY_ALPHA, beta=TVERSKY_BETA, smooth=SMOOTH):
    """Soft Tversky index per slice: (TP + s) / (TP + alpha FP + beta FN + s) with probabilities."""
    axes = tuple(range(1, len(y_pred.shape)))
    y_true = ops.cast(y_true, y_pred.dtype)
    tp = ops.sum(y_true * y_pred, axis=axes)
    fp = ops.sum((1 - y_true) * y_pred, axis=axes)
    fn = ops.sum(y_true * (1 - y_pred), axis=axes)
    return (tp + smooth) / (tp + alpha * fp + beta * fn + smooth)


def tversky_loss(y_true, y_pred, alpha=TVERSKY_ALPHA, beta=TVERSKY_BETA):
    """1 - soft Tversky index; beta > alpha punishes missed tumour more than false alarms."""
    return 1 - soft_tversky_index(y_true, y_pred, alpha, beta)


def tversky_loss_with(alpha, beta):
    """``tversky_loss`` with other weights, as a loss function named after them (for logs and fingerprints)."""
    def loss(y_true, y_pred):
        return tversky_loss(y_true, y_pred, alpha, beta)

    loss.__name__ = loss.__qualname__ = f"tversky_loss_with(alpha={alpha}, beta={beta})"
    return loss


def focal_tversky_loss(y_true, y_pred, alpha=TVERSKY_ALPHA, beta=TVERSKY_BETA, gamma=None):
    """(1 - soft Tversky index) ** gamma (default ``FOCAL_GAMMA``, read at each call); its gradient is gamma
    (1 - T) ** (gamma - 1) times the Tversky loss's, so gamma < 1 pushes nearly right slices hardest.

    A slice whose 1 - T is below Keras' epsilon costs 0 and has no gradient: with gamma < 1 the gradient at 0 is
    infinite, and a confidently empty prediction of a tumour-free slice rounds T to exactly 1, which would turn
    the whole batch's gradient into NaN.
    """
    gamma = FOCAL_GAMMA if gamma is None else gamma
    gap = 1 - soft_tversky_index(y_true, y_pred, alpha, beta)
    eps = config.epsilon()
    # where() differentiates both branches: the floor keeps the dropped one's gradient finite too.
    return ops.where(gap > eps, ops.power(ops.maximum(gap, eps), gamma), 0.0)


def _one_image(y_true, y_pred):
    """The batch's truth and prediction reshaped into one image, so a per-slice loss pools the whole batch."""
    return ops.reshape(y_true, (1, -1)), ops.reshape(y_pred, (1, -1))


def pooled_tversky_loss(y_true, y_pred):
    """``tversky_loss`` of the batch's pixels pooled into one index (see ``pooled_focal_tversky_loss``)."""
    return tversky_loss(*_one_image(y_true, y_pred))[0]


def pooled_tversky_loss_with(alpha, beta):
    """``pooled_tversky_loss`` with other weights, as a loss function named after them (for logs and fingerprints)."""
    def loss(y_true, y_pred):
        return tversky_loss(*_one_image(y_true, y_pred), alpha, beta)[0]

    loss.__name__ = loss.__qualname__ = f"pooled_tversky_loss_with(alpha={alpha}, beta={beta})"
    return loss


def pooled_focal_tversky_loss(y_true, y_pred):
    """``focal_tversky_loss`` of the batch's pixels pooled into one index, as the widely used Keras implementation
    (``K.flatten`` over the batch) computes it: a tumour-free slice's stray probability then weighs against the
    batch's tumour pixels instead of costing a whole slice's loss, so predicting every slice empty pays far less
    (see chapter 5)."""
    return focal_tversky_loss(*_one_image(y_true, y_pred))[0]


def dice_loss(y_true, y_pred):
    """1 - soft Dice (the Tversky index with alpha = beta = 1/2)."""
    return 1 - soft_tversky_index(y_true, y_pred, 0.5, 0.5)


def pooled_dice_loss(y_true, y_pred):
    """``dice_loss`` of the batch's pixels pooled into one index, as Buda et al.'s code pools it (it flattens
    the whole batch): a false alarm's soft false positives on a tumour-free slice then weigh against all the
    batch's tumour pixels, not a whole slice's loss (see ``pooled_focal_tversky_loss``)."""
    return dice_loss(*_one_image(y_true, y_pred))[0]


def bce(y_true, y_pred):
    """Binary cross-entropy per slice (mean over its pixels)."""
    axes = tuple(range(1, len(y_pred.shape)))
    return ops.mean(ops.binary_crossentropy(ops.cast(y_true, y_pred.dtype), y_pred), axis=axes)


def bce_dice_loss(y_true, y_pred):
    """Binary cross-entropy plus Dice loss: pixel-wise accuracy and overlap together."""
    return bce(y_true, y_pred) + dice_loss(y_true, y_pred)
