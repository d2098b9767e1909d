import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from lgg_utils import losses, plotting


def test_examples_run_from_small_to_large_tumours_then_empty_slices():
    scores = pd.DataFrame({"tumour": [True, False, True, True, False, False],
                           "true_pixels": [50, 0, 10, 900, 0, 0]})
    rows = plotting.pick_examples(scores, n=5)
    assert rows[:3].tolist() == [2, 0, 3]  # 10, 50, 900 pixels
    assert set(rows[3:]) <= {1, 4, 5} and len(rows) == 5


def test_training_curves_mark_the_kept_epoch():
    history = pd.DataFrame({"loss": [1.0, 0.6, 0.5], "val_loss": [0.9, 0.4, 0.7],
                            "dice": [0.1, 0.5, 0.6], "val_dice": [0.1, 0.6, 0.5]}).rename_axis("epoch")
    fig = plotting.training_curves(history, "dice", kept=2, silent=0.75)
    assert [ax.get_title() for ax in fig.axes] == ["loss", "dice"]
    assert "kept epoch (2)" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "validation, never finding a tumour (0.75)" in [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    plotting.plt.close(fig)


def test_focal_gradient_plots_the_focal_tversky_losss_own_gradient_relative_to_the_tversky_loss():
    truth = np.zeros((1, 8, 8, 1), "float32")
    truth[0, 2:6, 2:6] = 1
    prediction = tf.Variable(np.full((1, 8, 8, 1), 0.3, "float32"))
    with tf.GradientTape(persistent=True) as tape:
        focal, plain = losses.focal_tversky_loss(truth, prediction), losses.tversky_loss(truth, prediction)
    ratio = (tape.gradient(focal, prediction) / tape.gradient(plain, prediction)).numpy()[0, 3, 3, 0]
    index, gradient = plotting.focal_gradient([losses.FOCAL_GAMMA]).axes[0].lines[0].get_data()
    assert ratio == pytest.approx(np.interp(1 - float(plain[0]), index, gradient), rel=0.01)


def test_classifier_panels_count_the_test_calls_and_mark_the_threshold_on_each_roc_curve():
    truth, probability = np.array([0, 0, 1, 1, 1]), np.array([0.1, 0.7, 0.4, 0.8, 0.9])
    fig = plotting.classifier_panels({"val": (truth, 1 - probability), "test": (truth, probability)}, 0.5)
    assert [text.get_text() for text in fig.axes[0].texts] == ["1", "1", "1", "2"]  # tn fp / fn tp
    dots = [line.get_xydata()[0] for line in fig.axes[1].lines if line.get_marker() == "o"]
    np.testing.assert_allclose(dots, [[0.5, 1 / 3], [0.5, 2 / 3]])  # (false, true positive rate): val, test


def test_threshold_curves_draw_a_line_per_run_and_circle_the_thresholds_chosen_on_validation():
    shift = {"val": 0.0, "test": -0.1}
    rows = [{"step": run, "post-processing": post, "split": part, "threshold": t,
             "patient dice": level + shift[part] - abs(t - 0.4), "chosen": post == "largest component" and t == 0.4}
            for run, level in (("seed 42", 0.8), ("seed 1", 0.7)) for post in ("as predicted", "largest component")
            for part in ("val", "test") for t in (0.3, 0.4, 0.5)]
    fig = plotting.threshold_curves(pd.DataFrame(rows), "largest component")
    for ax, part in zip(fig.axes, ("val", "test")):
        assert len([line for line in ax.lines if len(line.get_xdata()) == 3]) == 2  # one per run, three thresholds
        np.testing.assert_allclose(ax.collections[-1].get_offsets(), [[0.4, 0.8 + shift[part]], [0.4, 0.7 + shift[part]]])
    assert "chosen on validation" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    plotting.plt.close(fig)


def test_sampling_chances_draw_one_patients_slices_by_each_rule():
    slices = pd.DataFrame({"patient": ["a"] * 4 + ["b"] * 4, "slice": [1, 2, 3, 4] * 2,
                           "tumour_pixels": [0, 30, 10, 0, 0, 20, 0, 0]})
    weights = np.array([0.05, 0.35, 0.1, 0.0, 0.1, 0.3, 0.1, 0.0])
    fig = plotting.sampling_chances(slices, "a", weights, 0.5)
    top, bottom = fig.axes
    assert [bar.get_height() for bar in top.patches] == [0, 30, 10, 0]
    by_share, by_area = (line.get_ydata() for line in bottom.lines)
    np.testing.assert_allclose(by_share, [10, 50 / 3, 50 / 3, 10])  # 50% over 3 tumour slices, 50% over 5 without
    np.testing.assert_allclose(by_area, weights[:4] * 100)
    plotting.plt.close(fig)


def test_neighbour_input_shows_the_flair_of_the_slice_before_the_slice_and_the_slice_after():
    image = np.zeros((8, 8, 9), np.float32)
    image[..., 1], image[..., 4], image[..., 7] = 0.5, 0.25, 0.75  # FLAIR of the slice, before and after
    fig = plotting.neighbour_input(image, np.zeros((8, 8, 1)))
    shown = [ax.images[0].get_array().mean() for ax in fig.axes]
    assert shown == [0.25, 0.5, 0.75] and [ax.get_title() for ax in fig.axes][1] == "FLAIR, the slice"
    plotting.plt.close(fig)


def test_slice_errors_put_each_step_at_its_false_positive_and_missed_slices_on_each_split():
    rows = [{"step": step, "post-processing": post, "split": part, "false-positive slices": false + (part == "test"),
             "missed tumour slices": missed} for step, false, missed in (("a", 10, 2), ("b", 20, 3), ("mean", 1, 3))
            for post in ("as predicted", "largest component") for part in ("val", "test")]
    fig = plotting.slice_errors(pd.DataFrame(rows), ["a", "mean"], "as predicted")
    for ax, extra in zip(fig.axes, (0, 1)):
        np.testing.assert_allclose(ax.collections[0].get_offsets(), [[10 + extra, 2], [1 + extra, 3]])  # b left out
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == ["a", "mean"]
    plotting.plt.close(fig)
