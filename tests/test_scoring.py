import numpy as np
import pandas as pd
import pytest

from lgg_utils import scoring


def test_slice_scores_and_summary_follow_the_empty_mask_convention():
    slices = pd.DataFrame({"patient": ["A", "A", "B"], "slice": [1, 2, 1]})
    truth = np.zeros((3, 4, 4, 1))
    truth[0, :2] = 1  # 8 tumour pixels
    prob = np.zeros((3, 4, 4, 1))
    prob[0, :1] = 0.9  # 4 of them found
    prob[2, 0, 0] = 0.8  # a false alarm on an empty slice
    scores = scoring.slice_scores(slices, truth, prob)
    assert scores.tumour.tolist() == [True, False, False]
    assert scores.dice.tolist() == pytest.approx([2 * 4 / (8 + 4), 1.0, 0.0])
    assert scores.pred_pixels.tolist() == [4, 0, 1] and scores.true_pixels.tolist() == [8, 0, 0]
    summary = scoring.slice_means(scores)
    assert summary.loc["tumour slices", "dice"] == pytest.approx(2 / 3)
    assert summary.loc["all slices", "dice"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert summary.slices.tolist() == [3, 1, 3]
    pooled = summary.loc["pooled"]  # TP 4, FP 1, FN 4 over the whole set
    assert pooled.dice == pytest.approx(8 / 13) and pooled.iou == pytest.approx(pooled.dice / (2 - pooled.dice))


def test_predict_keeps_the_table_order(sample_slices):
    class Echo:
        """A stand-in model that predicts the FLAIR channel, so order can be checked."""

        input_shape = (None, 32, 32, 3)

        def predict(self, data, verbose=0):
            return np.concatenate([images.numpy()[..., 1:2] for images, _ in data])

    rows = sample_slices.iloc[5:25]
    truth, prob = scoring.predict(Echo(), rows, batch_size=8)
    assert truth.shape == prob.shape == (20, 32, 32, 1)
    assert np.array_equal(truth.max(axis=(1, 2, 3)) > 0, rows.tumour.to_numpy())
    _, flipped = scoring.predict(Echo(), rows, batch_size=8, flip=True)  # the mirror's prediction, mirrored back
    assert np.allclose(flipped, prob) and not np.allclose(flipped, (prob + prob[:, :, ::-1]) / 2)


def test_predictions_on_cropped_slices_are_put_back_and_scored_on_the_whole_slices(sample_slices):
    from lgg_utils import models, volumes

    rows = sample_slices[sample_slices.patient == sample_slices.patient.iloc[0]]
    table = volumes.volume_table(rows, progress=False, crop=True)
    model = models.unet((32, 32, 3), width=0.0625)
    truth, probabilities = scoring.predict(model, rows, volumes=table)
    whole_truth, whole_probabilities = scoring.predict(model, rows, volumes=table[volumes.STATS])
    assert np.array_equal(truth, whole_truth) and probabilities.shape == whole_probabilities.shape
    assert not np.allclose(probabilities, whole_probabilities)


def test_a_model_taking_more_channels_than_a_slice_has_is_given_its_neighbours(sample_slices):
    import keras
    from lgg_utils import pipeline

    rows = sample_slices[sample_slices.patient == sample_slices.patient.iloc[0]]
    previous_flair = keras.Sequential([keras.Input((32, 32, 9)), keras.layers.Conv2D(1, 1, use_bias=False, name="mask")])
    previous_flair.layers[-1].set_weights([np.eye(9)[:, [4]].reshape(1, 1, 9, 1)])  # the slice before's FLAIR
    _, probabilities = scoring.predict(previous_flair, rows)
    images, _ = pipeline.load_arrays(rows, 32)
    assert np.allclose(probabilities[1:], images[:-1, ..., 1:2]) and np.allclose(probabilities[0], images[0, ..., 1:2])


def test_a_classifier_gets_intensities_per_volume_where_it_was_trained_on_them(sample_slices):
    from lgg_utils import volumes

    class MeanFlair:
        """A stand-in classifier whose tumour probability is the slice's mean FLAIR."""

        input_shape = (None, 32, 32, 3)

        def predict(self, data, verbose=0):
            means = np.concatenate([images.numpy()[..., 1].mean(axis=(1, 2)) for images, _ in data])
            return np.stack([1 - means, means], axis=1)

    rows = sample_slices[sample_slices.patient == sample_slices.patient.iloc[0]]
    stats = volumes.volume_table(rows, progress=False)[volumes.STATS]
    truth, divided = scoring.predict_tumour(MeanFlair(), rows)
    _, per_volume = scoring.predict_tumour(MeanFlair(), rows, volumes=stats)
    assert np.array_equal(truth, rows.tumour.to_numpy()) and 0 <= divided.min() and divided.max() <= 1
    assert per_volume.min() < 0 < per_volume.max()  # standardised: the volume's mean FLAIR is 0


def test_threshold_is_chosen_for_the_best_accuracy_and_ties_go_nearest_one_half():
    truth = np.array([0, 0, 0, 1, 1, 1])
    assert 0.3 < scoring.choose_threshold(truth, np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])) < 0.7
    shifted = scoring.choose_threshold(truth, np.array([0.01, 0.02, 0.03, 0.07, 0.08, 0.09]))
    assert shifted == pytest.approx(0.05)  # a model trained on balanced batches can need a low threshold
    assert scoring.choose_threshold(np.array([0, 1]), np.array([0.2, 0.8])) == 0.5  # a tie: 0.5 kept


def test_classifier_summary_counts_the_confusion_matrix():
    truth = np.array([0, 0, 0, 1, 1])
    summary = scoring.classifier_scores(truth, np.array([0.1, 0.6, 0.2, 0.9, 0.4]), threshold=0.5)
    assert (summary["tn"], summary["fp"], summary["fn"], summary["tp"]) == (2, 1, 1, 1)
    assert summary["accuracy"] == pytest.approx(3 / 5)
    assert summary["precision"] == pytest.approx(1 / 2) and summary["recall"] == pytest.approx(1 / 2)
    assert summary["auc"] == pytest.approx(5 / 6)
    assert np.isnan(scoring.classifier_scores(np.zeros(3), np.ones(3) / 2)["auc"])  # one class: no AUC


def test_study_table_puts_our_scores_beside_the_studys():
    scores = {"dice": {"all slices": 0.9, "tumour slices": 0.7}, "iou": {"all slices": 0.8, "tumour slices": 0.6},
              "tversky": {"all slices": 0.9, "tumour slices": 0.7}, "slices": {"all slices": 10, "tumour slices": 4}}
    table = scoring.study_table("unet", {"val": scores, "test": scores})
    assert table.loc["dice", "test, tumour slices"] == 0.7 and table.loc["dice", "study"] == 0.857
    assert np.isnan(table.loc["tversky", "study"])
    summary = {"accuracy": 0.9, "precision": 0.8, "recall": 0.7, "auc": 0.95}
    table = scoring.study_table("classifier", {"val": summary, "test": summary})
    assert table.loc["accuracy", "study"] == 0.8893 and table.loc["auc", "test"] == 0.95


def test_patient_scores_stack_the_slices_into_a_volume():
    scores = pd.DataFrame({"patient": ["A", "A", "B"], "tp": [4, 0, 0], "fp": [0, 4, 0], "fn": [4, 0, 0]})
    patients = scoring.patient_scores(scores)
    assert patients.loc["A", "dice"] == pytest.approx(2 * 4 / (8 + 4 + 4))  # not the mean of the slices' Dice
    assert patients.loc["B", "dice"] == 1.0 and patients.slices.tolist() == [2, 1]  # empty volume predicted empty


def test_bootstrap_interval_holds_the_mean_and_narrows_with_more_patients():
    rng = np.random.default_rng(1)
    few, many = rng.random(10), rng.random(1000)
    low, high = scoring.bootstrap_ci(few)
    assert low < few.mean() < high
    assert np.subtract(*scoring.bootstrap_ci(many)[::-1]) < (high - low) / 3
    assert scoring.bootstrap_ci([0.7, 0.7, 0.7]) == pytest.approx((0.7, 0.7))


def test_gate_empties_the_slices_the_classifier_rules_out_and_errors_count_them():
    probabilities = np.full((3, 2, 2, 1), 0.9)
    gated, keep = scoring.gate(probabilities, np.array([0.05, 0.5, 0.95]), skip_below=0.1)
    assert keep.tolist() == [False, True, True] and gated[0].max() == 0 and gated[1:].min() == 0.9
    scores = pd.DataFrame({"tumour": [True, True, False, False], "pred_pixels": [0, 3, 2, 0]})
    assert scoring.slice_errors(scores) == {"missed tumour slices": 1, "false-positive slices": 1}


def test_detection_summary_counts_yes_no_calls():
    summary = scoring.detection_scores(np.array([1, 1, 0, 0]), np.array([True, False, True, False]))
    assert (summary["tp"], summary["fn"], summary["fp"], summary["tn"]) == (1, 1, 1, 1)
    assert summary["accuracy"] == summary["precision"] == summary["recall"] == 0.5


def test_changing_the_module_cascade_skip_takes_effect(monkeypatch):
    probabilities, tumour_probability = np.full((2, 2, 2, 1), 0.9), np.array([0.05, 0.3])
    assert scoring.gate(probabilities, tumour_probability)[1].tolist() == [False, True]
    monkeypatch.setattr(scoring, "CASCADE_SKIP", 0.5)
    assert scoring.gate(probabilities, tumour_probability)[1].tolist() == [False, False]


def test_largest_component_keeps_the_biggest_3d_blob_across_slices_and_leaves_empty_empty():
    volume = np.zeros((3, 8, 8, 1), "float32")
    volume[0:2, 1:3, 1:3] = 0.9  # 8 voxels over two neighbouring slices: one component
    volume[2, 5:7, 5:8] = 0.8  # 6 voxels, apart from the first
    volume[2, 0, 7] = 0.4  # below the mask threshold: not tumour
    volume[2, 3, 3] = 0.7  # touches the first blob at a corner only (26-connected): part of it
    kept = scoring.largest_component(volume)
    assert kept.sum() == 9 and kept[0:2, 1:3, 1:3].all() and kept[2, 3, 3] and kept.dtype == volume.dtype
    assert not scoring.largest_component(np.zeros((2, 4, 4, 1), "float32")).any()


def test_per_class_table_puts_the_accuracy_under_f1_beside_the_number_of_slices():
    table = scoring.per_class(np.array([0, 0, 0, 1, 1]), np.array([0, 0, 1, 1, 1]))
    assert table.loc["tumour", "recall"] == 1 and table.loc["tumour", "support"] == 2
    accuracy = table.loc["accuracy"]
    assert accuracy["f1-score"] == 0.8 and accuracy["support"] == 5
    assert accuracy[["precision", "recall"]].isna().all()  # not the accuracy repeated in every column


def test_upsampled_probabilities_keep_their_shape_and_a_filled_square_scales_by_its_area():
    probabilities = np.zeros((1, 8, 8, 1), "float32")
    probabilities[0, 2:6, 2:6] = 1
    larger = scoring.upsampled(probabilities, 32)
    assert larger.shape == (1, 32, 32, 1)
    assert (larger > 0.5).sum() == pytest.approx(16 * 16, rel=0.15)


def test_silent_dice_is_the_share_of_tumour_free_slices():
    slices = pd.DataFrame({"tumour": [True, False, False, False]})
    truth = np.zeros((4, 2, 2, 1))
    truth[0] = 1
    assert scoring.silent_dice(slices) == 0.75 == scoring.slice_scores(
        slices.assign(patient="p", slice=range(4)), truth, np.zeros_like(truth)).dice.mean()
