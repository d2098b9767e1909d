import numpy as np
import pandas as pd
import pytest

from lgg_utils import evaluation


def test_slice_scores_and_summary_follow_the_empty_mask_convention():
    slices = pd.DataFrame({"patient": ["A", "A", "B"], "slice": [1, 2, 1]})
    truth = np.zeros((3, 4, 4, 1))
    truth[0, :2] = 1  # 8 tumour pixels
    prob = np.zeros((3, 4, 4, 1))
    prob[0, :1] = 0.9  # 4 of them found
    prob[2, 0, 0] = 0.8  # a false alarm on an empty slice
    scores = evaluation.slice_scores(slices, truth, prob)
    assert scores.tumour.tolist() == [True, False, False]
    assert scores.dice.tolist() == pytest.approx([2 * 4 / (8 + 4), 1.0, 0.0])
    assert scores.pred_pixels.tolist() == [4, 0, 1] and scores.true_pixels.tolist() == [8, 0, 0]
    summary = evaluation.summarise(scores)
    assert summary.loc["tumour slices", "dice"] == pytest.approx(2 / 3)
    assert summary.loc["all slices", "dice"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert summary.slices.tolist() == [3, 1]


def test_predict_keeps_the_table_order(sample_slices):
    class Echo:
        """A stand-in model that predicts the FLAIR channel, so order can be checked."""

        def predict(self, data, verbose=0):
            return np.concatenate([images.numpy()[..., 1:2] for images, _ in data])

    rows = sample_slices.iloc[5:25]
    truth, prob = evaluation.predict(Echo(), rows, 32, batch_size=8)
    assert truth.shape == prob.shape == (20, 32, 32, 1)
    assert np.array_equal(truth.max(axis=(1, 2, 3)) > 0, rows.tumour.to_numpy())
