"""Saved models: one protocol to save, fingerprint and load them; edited code, a stale file or a model file
that carries code is never used."""
import importlib
import json
import sys

import keras
import numpy as np
import pandas as pd
import pytest

from conftest import save_as_trained
from lgg_utils import artifacts, config, data, evaluate, losses, models, splits, training

HISTORY = pd.DataFrame({"loss": [1.0, 0.5]}).rename_axis("epoch")
BUILDERS = '''import keras


def head(x):
    return keras.layers.Conv2D(1, 1, activation="{activation}", name="mask")(x)


def tiny(input_shape, width=1.0):
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, head(keras.layers.Conv2D(2, 3, padding="same")(inputs)), name="tiny")
'''


def test_round_trip_in_safe_mode_and_other_settings_are_not_reused(tmp_path):
    model = models.unet((16, 16, 3), width=0.0625)
    split = pd.Series({"A": "train", "B": "test"})
    record = artifacts.fingerprint(training.RECIPES["unet"], size=16, split=split)
    artifacts.save(tmp_path / "unet", model, HISTORY, record)
    loaded, history = artifacts.load(tmp_path / "unet", record)
    x = np.random.default_rng(0).random((1, 16, 16, 3)).astype("float32")
    assert np.allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    assert history.loss.tolist() == [1.0, 0.5]
    moved = artifacts.fingerprint(training.RECIPES["unet"], size=16, split=split.replace({"train": "test", "test": "train"}))
    assert artifacts.load(tmp_path / "unet", moved) is None and artifacts.changes(record, moved) == ["split"]
    assert artifacts.fingerprint(split=split) == artifacts.fingerprint(split=split.iloc[::-1])  # order-free
    assert artifacts.load(tmp_path / "missing", record) is None


def test_the_fingerprint_covers_the_code_of_every_function_a_model_or_loss_calls_and_keras():
    record = artifacts.fingerprint(training.Recipe(models.unet, losses.focal_tversky_loss))
    assert {"models.unet", "models.conv_block", "models.decoder_block", "losses.focal_tversky_loss",
            "losses.soft_tversky_index"} <= set(record["code"])
    assert record["keras"] == keras.__version__


def test_editing_a_builder_retrains_and_says_which_function_changed(tmp_path, sample_slices, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(tmp_path))
    package = tmp_path / "edited"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "builders.py").write_text(BUILDERS.format(activation="sigmoid"))
    import edited.builders

    profile = config.get_profile("fast", env={"LGG_IMAGE_SIZE": "16", "LGG_EPOCHS": "1"})
    split = splits.split_patients(data.patient_table(sample_slices))
    train = lambda: training.train_model("unet", sample_slices, split, profile, tmp_path / "unet",  # noqa: E731
                                         training.Recipe(edited.builders.tiny, losses.bce))
    assert train()[2] and not train()[2]  # trained, then reused
    (package / "builders.py").write_text(BUILDERS.format(activation="hard_sigmoid"))  # the student's edit
    importlib.reload(edited.builders)
    assert train()[2]
    assert "the code or value of builders.head changed" in capsys.readouterr().out
    sys.modules.pop("edited.builders"), sys.modules.pop("edited")


def test_a_retrain_removes_the_old_scores_and_threshold(tmp_path):
    artifacts.save(tmp_path / "classifier", models.unet((16, 16, 3), width=0.0625), HISTORY, {"v": 1})
    artifacts.save_metrics(tmp_path / "classifier", {"train": {"threshold": 0.9}})
    assert artifacts.classifier_threshold(tmp_path) == 0.9
    artifacts.save(tmp_path / "classifier", models.unet((16, 16, 3), width=0.0625), HISTORY, {"v": 2})
    assert artifacts.read_metrics(tmp_path / "classifier") is None and artifacts.classifier_threshold(tmp_path) == 0.5


def test_loaders_leave_out_a_model_trained_with_other_code_and_say_why(tmp_path):
    unet, resunet = models.unet((16, 16, 3), width=0.0625), models.resunet((16, 16, 3), width=0.0625)
    save_as_trained(tmp_path, "unet", unet)
    save_as_trained(tmp_path, "resunet", resunet)
    record = artifacts.read_fingerprint(tmp_path / "resunet")
    record["code"]["models.residual_block"] = "edited"
    (tmp_path / "resunet" / "fingerprint.json").write_text(json.dumps(record))
    (tmp_path / "vgg19_unet").mkdir()
    unet.save(tmp_path / "vgg19_unet" / "model.keras")  # a model file without a fingerprint
    current, stale = artifacts.load_models(tmp_path, training.RECIPES)
    assert list(current) == ["unet"]
    assert "the code or value of models.residual_block" in stale["resunet"] and "no fingerprint" in stale["vgg19_unet"]


def test_a_model_file_carrying_code_is_refused_by_every_loader(tmp_path):
    inputs = keras.Input((16, 16, 3))
    crafted = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 0 + 1)(inputs))  # a Lambda runs arbitrary code
    save_as_trained(tmp_path, "unet", crafted)
    with pytest.raises(ValueError, match="safe_mode"):
        artifacts.load(tmp_path / "unet", artifacts.read_fingerprint(tmp_path / "unet"))
    with pytest.raises(ValueError, match="safe_mode"):
        artifacts.load_models(tmp_path, training.RECIPES)
    with pytest.raises(ValueError, match="safe_mode"):
        evaluate.load_current_models(tmp_path)


def test_classifier_threshold_comes_from_its_training_patient_scores(tmp_path):
    assert artifacts.classifier_threshold(tmp_path) == 0.5  # none saved
    (tmp_path / "classifier").mkdir()
    artifacts.save_metrics(tmp_path / "classifier", {"val": {"threshold": 0.41}, "test": {"threshold": 0.41}})
    assert artifacts.trained_threshold(tmp_path) is None  # chosen on validation before v0.2.7: not used
    assert artifacts.classifier_threshold(tmp_path) == 0.5
    artifacts.save_metrics(tmp_path / "classifier", {"train": {"threshold": 0.63}, "val": {"threshold": 0.63}})
    assert artifacts.trained_threshold(tmp_path) == artifacts.classifier_threshold(tmp_path) == 0.63


def test_a_constant_the_loss_reads_is_part_of_the_fingerprint(monkeypatch):
    recipe = training.RECIPES["vgg19_unet"]
    before = artifacts.fingerprint(recipe)
    monkeypatch.setattr(losses, "FOCAL_GAMMA", 1.0)  # chapter 5's exercise
    assert artifacts.changes(before, artifacts.fingerprint(recipe)) == ["the code or value of losses.FOCAL_GAMMA"]
