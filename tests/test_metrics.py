import numpy as np
import pytest

from lgg_utils import metrics


def masks(*rows):
    """Stack 1-D masks (lists of 0/1) into a batch of (1, W, 1) slices."""
    return np.array(rows, dtype=float)[:, None, :, None]


TRUTH = masks([1, 1, 1, 1, 0, 0, 0, 0])
PRED = masks([0, 1, 1, 1, 1, 1, 0, 0])  # TP 3, FP 2, FN 1


def test_scores_match_hand_counts():
    assert metrics.dice(TRUTH, PRED)[0] == pytest.approx(2 * 3 / (2 * 3 + 2 + 1))
    assert metrics.iou(TRUTH, PRED)[0] == pytest.approx(3 / (3 + 2 + 1))
    assert metrics.tversky_score(TRUTH, PRED)[0] == pytest.approx(3 / (3 + 0.3 * 2 + 0.7 * 1))


def test_tversky_weights_false_positives_by_alpha_and_false_negatives_by_beta():
    only_fp = metrics.tversky_score(masks([1, 0]), masks([1, 1]), alpha=0.3, beta=0.7)[0]
    only_fn = metrics.tversky_score(masks([1, 1]), masks([1, 0]), alpha=0.3, beta=0.7)[0]
    assert only_fp == pytest.approx(1 / 1.3) and only_fn == pytest.approx(1 / 1.7)


def test_empty_mask_convention():
    empty, some = masks([0, 0, 0]), masks([0, 1, 0])
    for score in (metrics.dice, metrics.iou, metrics.tversky_score):
        assert score(empty, empty)[0] == 1.0  # correctly predicted "no tumour"
        assert score(empty, some)[0] == 0.0  # false alarm
        assert score(some, empty)[0] == 0.0  # missed tumour


def test_probabilities_are_thresholded_at_one_half():
    assert metrics.dice(masks([1, 1]), masks([0.6, 0.4]))[0] == pytest.approx(2 / 3)


def test_dice_and_iou_agree_with_their_identity():
    rng = np.random.default_rng(0)
    truth, pred = rng.random((50, 8, 8, 1)) > 0.5, rng.random((50, 8, 8, 1)) > 0.5
    d, j = metrics.dice(truth, pred), metrics.iou(truth, pred)
    assert np.allclose(d, 2 * j / (1 + j))


def test_keras_dice_metric_matches_the_numpy_dice_including_empty_masks():
    truth = np.concatenate([TRUTH, masks([0] * 8), masks([0] * 8), TRUTH])
    pred = np.concatenate([PRED, masks([0] * 8), masks([0, 1, 0, 0, 0, 0, 0, 0]), masks([0] * 8)])
    keras_dice = np.asarray(metrics.dice_metric(truth.astype("float32"), pred.astype("float32")))
    assert keras_dice.tolist() == pytest.approx(metrics.dice(truth, pred).tolist())
    assert keras_dice.tolist() == pytest.approx([6 / 9, 1.0, 0.0, 0.0])


def test_changing_the_module_threshold_takes_effect(monkeypatch):
    soft = masks([0.4, 0.4, 0.4, 0.4, 0, 0, 0, 0])
    assert metrics.dice(TRUTH, soft)[0] == 0.0  # 0.4 is below the default 0.5
    monkeypatch.setattr(metrics, "THRESHOLD", 0.3)
    assert metrics.dice(TRUTH, soft)[0] == 1.0
