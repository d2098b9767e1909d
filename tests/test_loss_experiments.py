import numpy as np
import pandas as pd
import pytest

from lgg_utils import artifacts, loss_experiments, losses


def test_disc_draws_the_tumour_and_a_prediction_of_the_asked_size():
    truth, prediction = loss_experiments.disc(75, tumour=60, size=32)
    assert truth.shape == prediction.shape == (1, 32, 32, 1)
    assert truth.sum() == 60 and (prediction > 0.5).sum() == 75
    assert ((prediction > 0.5) >= truth).all()  # a larger prediction covers the whole tumour


def test_loss_response_is_zero_error_first_and_grows_with_the_error():
    table = loss_experiments.loss_response({"Dice": losses.dice_loss}, tumour=40, errors=range(0, 50, 10))
    for kind in ("false positives", "false negatives"):
        values = table[table.error == kind].value.to_numpy()
        assert (np.diff(values) > 0).all(), kind
    assert table[table.error == "false negatives"].pixels.max() == 40  # cannot miss more than the tumour


def test_tversky_grid_prices_misses_with_beta():
    grid = loss_experiments.tversky_grid(30, tumour=60, weights=[0.3, 0.7])
    assert grid.loc[0.3, 0.7] > grid.loc[0.7, 0.3]  # an under-segmentation costs more when beta is high


def test_named_tversky_loss_matches_the_default_one_and_is_told_apart():
    truth, prediction = loss_experiments.disc(40, tumour=60, size=32)
    default = losses.tversky_loss_with(losses.TVERSKY_ALPHA, losses.TVERSKY_BETA)
    assert np.allclose(default(truth, prediction), losses.tversky_loss(truth, prediction))
    assert artifacts.fingerprint(loss=losses.tversky_loss_with(0.7, 0.3)) != artifacts.fingerprint(loss=default)


def test_slug_and_pixel_precision_recall():
    assert [loss_experiments.slug(label) for label in loss_experiments.EXPERIMENT] == [
        "bce", "dice", "bce_dice", "tversky", "focal_tversky", "tversky_beta_0_3"]
    scores = pd.DataFrame({"tp": [3, 1], "fp": [1, 0], "fn": [0, 4]})
    assert loss_experiments.pixel_precision_recall(scores) == pytest.approx({"precision": 0.8, "recall": 0.5})
