"""The evaluation command: outputs, the cascade, and its refusals (no patients, unreadable file, no models,
an existing output folder)."""
import json
import shutil

import keras
import numpy as np
import pandas as pd
import pytest

from conftest import save_as_trained
from lgg_utils import data, evaluate, models

SIZE = 32


def fixed_classifier(tumour_logit):
    """A stand-in classifier whose tumour probability is the same for every slice."""
    model = keras.Sequential([keras.Input((SIZE, SIZE, 3)), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(2, activation="softmax")])
    model.layers[-1].set_weights([np.zeros((3, 2)), np.array([0.0, tumour_logit])])
    return model


@pytest.fixture
def artifacts(tmp_path):
    """An artifacts folder with an (untrained) UNet and a classifier sure that no slice has a tumour."""
    folder = tmp_path / "artifacts" / "fast" / "seed-42"
    for name, model in {"unet": models.unet((SIZE, SIZE, 3), width=0.0625), "classifier": fixed_classifier(-20)}.items():
        save_as_trained(folder, name, model)
    return folder


def test_writes_slice_patient_and_summary_files(kaggle_dir, artifacts, tmp_path, capsys):
    out = tmp_path / "out"
    evaluate.main(["--data", str(kaggle_dir), "--artifacts", str(artifacts), "--out", str(out)])
    result = json.loads((out / "summary.json").read_text())
    assert (result["patients"], result["slices"], result["tumour slices"]) == (4, 48, 16)
    slices = pd.read_csv(out / "slices.csv")
    assert len(slices) == 2 * 48 and set(slices["mode"]) == {"alone", "cascade"}
    patients = pd.read_csv(out / "patients.csv")
    assert len(patients) == 2 * 4 and patients.slices.eq(12).all()
    low, high = result["segmenters"]["unet"]["alone"]["patient dice 95% CI"]
    assert low <= result["segmenters"]["unet"]["alone"]["patient dice"] <= high
    assert "patient dice" in capsys.readouterr().out


def test_cascade_skips_the_slices_the_classifier_rules_out(kaggle_dir, artifacts):
    scores, seconds = evaluate.run(evaluate.slice_table(kaggle_dir, progress=False),
                                   evaluate.load_current_models(artifacts), progress=False)
    cascade = scores[scores["mode"] == "cascade"]
    assert not cascade.segmented.any() and cascade.pred_pixels.eq(0).all()
    result = evaluate.report(scores, seconds, threshold=0.5)["segmenters"]["unet"]["cascade"]
    assert result["missed tumour slices"] == 16 and result["false-positive slices"] == 0
    assert set(seconds) == {"unet", "classifier"}


def test_folder_with_no_patients_is_refused(tmp_path, artifacts, capsys):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as stop:
        evaluate.main(["--data", str(tmp_path / "empty"), "--artifacts", str(artifacts), "--out", str(tmp_path / "o")])
    assert stop.value.code == 1 and "no patient folders" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_unreadable_file_is_named(kaggle_dir, artifacts, tmp_path, capsys):
    broken = next(kaggle_dir.glob("*/*_5.tif"))
    broken.write_bytes(b"not a tiff")
    with pytest.raises(SystemExit):
        evaluate.main(["--data", str(kaggle_dir), "--artifacts", str(artifacts), "--out", str(tmp_path / "o")])
    assert str(broken) in capsys.readouterr().err


def test_artifacts_without_models_name_the_training_command(kaggle_dir, tmp_path, capsys):
    with pytest.raises(SystemExit):
        evaluate.main(["--data", str(kaggle_dir), "--artifacts", str(tmp_path), "--out", str(tmp_path / "o")])
    assert "python -m lgg_utils.training unet" in capsys.readouterr().err


def test_a_stale_model_of_chapter_8_names_the_command_that_retrains_its_step_alone(kaggle_dir, artifacts, tmp_path,
                                                                                 capsys):
    shutil.copytree(artifacts / "unet", artifacts / "unet_rotate_scale")
    (artifacts / "unet_rotate_scale" / "fingerprint.json").unlink()
    evaluate.main(["--data", str(kaggle_dir), "--artifacts", str(artifacts), "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert "unet_rotate_scale is stale" in out
    assert "python -m lgg_utils.recipe --steps '+ rotation and scaling'" in out


def test_existing_output_is_kept_unless_forced(kaggle_dir, artifacts, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text("earlier results")
    with pytest.raises(SystemExit) as stop:
        evaluate.main(["--data", str(kaggle_dir), "--artifacts", str(artifacts), "--out", str(out)])
    assert stop.value.code == 2 and "--force" in capsys.readouterr().err
    assert (out / "summary.json").read_text() == "earlier results"
    evaluate.main(["--data", str(kaggle_dir), "--artifacts", str(artifacts), "--out", str(out), "--force"])
    assert json.loads((out / "summary.json").read_text())["patients"] == 4


def test_default_output_folder_is_under_the_artifacts(kaggle_dir, artifacts):
    evaluate.main(["--data", str(kaggle_dir), "--artifacts", str(artifacts)])
    assert (artifacts / "evaluation" / kaggle_dir.name / "summary.json").is_file()


def test_flip_averaging_mirrors_the_masks_back():
    inputs = keras.Input((SIZE, SIZE, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(1, 3, padding="same")(inputs))  # not mirror-symmetric
    images = np.random.default_rng(0).random((3, SIZE, SIZE, 3)).astype("float32")
    expected = (model.predict(images, verbose=0) + model.predict(images[:, :, ::-1], verbose=0)[:, :, ::-1]) / 2
    np.testing.assert_allclose(evaluate._predict(model, images, flip=True), expected, atol=1e-5)
    assert not np.allclose(expected, evaluate._predict(model, images), atol=1e-3)


def test_post_processing_options_are_applied_per_patient_volume_and_recorded(kaggle_dir, artifacts, tmp_path,
                                                                            monkeypatch):
    volumes = []
    monkeypatch.setattr(evaluate.scoring, "largest_component", lambda p: volumes.append(p.shape) or np.zeros_like(p))
    out = tmp_path / "out"
    evaluate.main(["--data", str(kaggle_dir), "--artifacts", str(artifacts), "--out", str(out), "--flip",
                   "--largest-component"])
    result = json.loads((out / "summary.json").read_text())
    assert result["flip"] and result["largest component"]
    assert volumes == [(12, SIZE, SIZE, 1)] * 4  # one call per patient, on its whole volume
    assert pd.read_csv(out / "slices.csv").pred_pixels.eq(0).all()  # the post-processed masks are the ones scored


def test_the_per_volume_unet_of_chapter_8_is_evaluated_on_intensities_per_volume(kaggle_dir, artifacts, tmp_path):
    from lgg_utils import artifacts as saved, training, volumes

    # A stand-in that marks the pixels darker than 0: none of an image divided by 255, about half of a z-scored one.
    dark = keras.Sequential([keras.Input((SIZE, SIZE, 3)), keras.layers.Conv2D(1, 1, activation="sigmoid", name="mask")])
    dark.layers[-1].set_weights([np.array([0.0, -1000.0, 0.0]).reshape(1, 1, 3, 1), np.array([-1.0])])
    table = volumes.volume_table(evaluate.slice_table(kaggle_dir, progress=False), progress=False)
    saved.save(artifacts / "unet_volume", dark, pd.DataFrame({"loss": [1.0]}).rename_axis("epoch"),
               saved.fingerprint(training.RECIPES["unet"], volumes=table))
    evaluate.main(["--data", str(kaggle_dir), "--artifacts", str(artifacts), "--out", str(tmp_path / "out")])
    slices = pd.read_csv(tmp_path / "out" / "slices.csv")
    alone = slices[slices["mode"] == "alone"].groupby("model").pred_pixels.sum()
    assert alone["unet_volume"] > 0.2 * 48 * SIZE * SIZE


def test_a_classifier_trained_per_volume_is_scored_beside_the_chapters_at_its_own_threshold(kaggle_dir, artifacts,
                                                                                           tmp_path, capsys):
    from lgg_utils import artifacts as saved, training, volumes

    # A stand-in whose tumour probability is 0.5 where the mean FLAIR is 0 and above it where brighter: about one
    # half on intensities standardised per volume, far above it on intensities divided by 255.
    flair = keras.Sequential([keras.Input((SIZE, SIZE, 3)), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(2, activation="softmax")])
    flair.layers[-1].set_weights([np.array([[0.0, 0.0], [0.0, 50.0], [0.0, 0.0]]), np.zeros(2)])
    table = volumes.volume_table(evaluate.slice_table(kaggle_dir, progress=False), progress=False)
    folder = artifacts / "classifier_volume"
    saved.save(folder, flair, pd.DataFrame({"loss": [1.0]}).rename_axis("epoch"),
               saved.fingerprint(training.RECIPES["classifier"], volumes=table))
    saved.save_metrics(folder, {"train": {"threshold": 0.7}})
    evaluate.main(["--data", str(kaggle_dir), "--artifacts", str(artifacts), "--out", str(tmp_path / "out")])
    result = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert set(result["segmenters"]) == {"unet"}  # a classifier, not a segmenter
    assert result["classifier_volume"]["threshold"] == 0.7 and result["classifier"]["threshold"] == 0.5
    slices = pd.read_csv(tmp_path / "out" / "slices.csv")
    assert slices.p_classifier_volume.between(0.01, 0.99).mean() > 0.5  # standardised, not divided by 255
    assert "classifier_volume at threshold 0.70" in capsys.readouterr().out


def test_a_unet_cropped_to_the_brain_has_its_masks_put_back_in_the_whole_slice(kaggle_dir, monkeypatch):
    from lgg_utils import volumes

    slices = evaluate.slice_table(kaggle_dir, progress=False)
    height, width = data.image_size(slices.image_path.iloc[0])
    middle = dict(zip(volumes.BOX, (height // 4, width // 4, height // 2, height, width)))  # the central quarter
    monkeypatch.setattr(volumes, "brain_box", lambda volume: middle)
    everywhere = keras.Sequential([keras.Input((SIZE, SIZE, 3)), keras.layers.Conv2D(1, 1, activation="sigmoid", name="mask")])
    everywhere.layers[-1].set_weights([np.zeros((1, 1, 3, 1)), np.array([10.0])])  # tumour in every pixel
    scores, _ = evaluate.run(slices, {"unet": everywhere, "unet_volume_crop": everywhere}, progress=False,
                             per_volume=["unet_volume_crop"], cropped=["unet_volume_crop"])
    pixels = scores[scores["mode"] == "alone"].groupby("model").pred_pixels.sum() / len(slices)
    assert pixels["unet"] == SIZE * SIZE
    assert pixels["unet_volume_crop"] == pytest.approx(SIZE * SIZE / 4, rel=0.1)  # put back in its place only


def test_a_unet_taking_neighbouring_slices_gets_each_slice_with_its_neighbours(kaggle_dir):
    from lgg_utils import pipeline

    slices = evaluate.slice_table(kaggle_dir, progress=False)
    part = slices[slices.patient == slices.patient.iloc[0]]
    images, _ = pipeline.load_arrays(part, SIZE)
    segmenters = {"unet": models.unet((SIZE, SIZE, 3), width=0.0625),
                  "unet_neighbours": models.unet((SIZE, SIZE, 9), width=0.0625)}
    inputs = evaluate.model_inputs(part, SIZE, segmenters, images)
    assert inputs["unet"] is images and np.array_equal(inputs["unet_neighbours"][..., :3], images)
    assert np.array_equal(inputs["unet_neighbours"][1:, ..., 3:6], images[:-1])  # the slice before
    scores, _ = evaluate.run(slices, segmenters, progress=False)
    assert scores.groupby("model").size().to_dict() == dict.fromkeys(segmenters, len(slices))


def constant_segmenter(logit):
    """A stand-in segmenter that gives every pixel the same tumour logit."""
    model = keras.Sequential([keras.Input((SIZE, SIZE, 3)), keras.layers.Conv2D(1, 1, activation="sigmoid", name="mask")])
    model.layers[-1].set_weights([np.zeros((1, 1, 3, 1)), np.array([logit])])
    return model


def test_the_ensemble_of_chapter_8_is_scored_on_its_members_mean_probability(kaggle_dir):
    from lgg_utils import recipe

    slices = evaluate.slice_table(kaggle_dir, progress=False)
    members = {"unet": constant_segmenter(2.0), "unet_volume": constant_segmenter(-10.0)}  # p 0.88 and 0.00
    scores, seconds = evaluate.run(slices, members, progress=False, ensemble=list(members))
    pixels = scores.groupby("model").pred_pixels.sum() / len(slices)
    assert pixels["unet"] == SIZE * SIZE and pixels["unet_volume"] == 0
    assert pixels[recipe.ENSEMBLE] == 0  # a mean of 0.44: below one half everywhere
    assert seconds[recipe.ENSEMBLE] == pytest.approx(seconds["unet"] + seconds["unet_volume"])
    members["unet_volume"] = constant_segmenter(-1.0)  # p 0.27: alone it draws nothing, in the mean (0.58) everything
    scores, _ = evaluate.run(slices, members, progress=False, ensemble=list(members))
    pixels = scores.groupby("model").pred_pixels.sum() / len(slices)
    assert pixels["unet_volume"] == 0 and pixels[recipe.ENSEMBLE] == SIZE * SIZE


def test_an_ensemble_with_a_member_that_is_not_current_is_left_out_and_said(kaggle_dir, artifacts, tmp_path, capsys):
    from lgg_utils import recipe

    (artifacts / recipe.ENSEMBLE_FILE).write_text(json.dumps({"members": ["unet", "unet_volume_flips"]}))
    evaluate.main(["--data", str(kaggle_dir), "--artifacts", str(artifacts), "--out", str(tmp_path / "out")])
    assert "Left out: the mean of the steps: member(s) unet_volume_flips missing or stale" in capsys.readouterr().out
    assert recipe.ENSEMBLE not in set(pd.read_csv(tmp_path / "out" / "slices.csv").model)
    (artifacts / recipe.ENSEMBLE_FILE).write_text(json.dumps({"members": ["unet"]}))
    evaluate.main(["--data", str(kaggle_dir), "--artifacts", str(artifacts), "--out", str(tmp_path / "out"), "--force"])
    assert recipe.ENSEMBLE in set(pd.read_csv(tmp_path / "out" / "slices.csv").model)


def test_native_scoring_counts_pixels_at_the_stored_resolution(kaggle_dir):
    slices = evaluate.slice_table(kaggle_dir, progress=False)
    everywhere = {"unet": constant_segmenter(10.0)}  # predicts 32x32 pixels, all tumour
    scores, _ = evaluate.run(slices, everywhere, progress=False)
    native, _ = evaluate.run(slices, everywhere, progress=False, native=True)
    assert scores.pred_pixels.eq(SIZE * SIZE).all() and native.pred_pixels.eq(256 * 256).all()
    assert native.true_pixels.tolist() == slices.tumour_pixels.tolist()  # the masks as stored, not shrunk


def test_native_scoring_keeps_the_largest_component_of_the_enlarged_volume(kaggle_dir, monkeypatch):
    volumes = []
    monkeypatch.setattr(evaluate.scoring, "largest_component", lambda p: volumes.append(p.shape) or p)
    evaluate.run(evaluate.slice_table(kaggle_dir, progress=False), {"unet": constant_segmenter(10.0)}, progress=False,
                 largest_component=True, native=True)
    assert volumes == [(12, 256, 256, 1)] * 4


def test_native_scoring_of_slices_of_two_sizes_is_refused_before_any_model_runs(kaggle_dir, artifacts, tmp_path,
                                                                                 capsys):
    from conftest import write_slice

    case = next(p for p in kaggle_dir.iterdir() if p.is_dir())
    write_slice(case, case.name, 1, size=128)
    with pytest.warns(UserWarning, match="not 256x256"), pytest.raises(SystemExit) as stop:
        evaluate.main(["--data", str(kaggle_dir), "--artifacts", str(artifacts), "--out", str(tmp_path / "o"),
                       "--native"])
    assert stop.value.code == 1 and "(128, 128)" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
