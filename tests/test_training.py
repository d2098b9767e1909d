import dataclasses
import warnings

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from tensorflow.python.framework.config import is_op_determinism_enabled  # not in the public API

from lgg_utils import artifacts, config, losses, models, pipeline, training, volumes


def squares(n=64, size=32, seed=0):
    """Images with one bright square each, and the square as the mask."""
    rng = np.random.default_rng(seed)
    images = rng.normal(0.2, 0.05, (n, size, size, 3)).astype("float32")
    masks = np.zeros((n, size, size, 1), "float32")
    for i, (r, c) in enumerate(rng.integers(2, size - 10, (n, 2))):
        images[i, r:r + 8, c:c + 8] += 0.6
        masks[i, r:r + 8, c:c + 8] = 1
    return tf.data.Dataset.from_tensor_slices((images, masks)).batch(16)


def test_fit_lowers_the_loss_and_returns_the_history():
    model = training.compile_model(models.unet((32, 32, 3), width=0.125), losses.bce_dice_loss, learning_rate=3e-3)
    history = training.fit(model, squares(), squares(seed=1), epochs=6, patience=6)
    assert {"loss", "val_loss", "seconds"} <= set(history.columns) and (history.seconds > 0).all()
    assert history.loss.iloc[-1] < 0.8 * history.loss.iloc[0]


def no_imagenet_weights(recipe, profile):
    """``training.pretrained`` where the weights are missing and cannot be downloaded."""
    warnings.warn("No ImageNet weights in the cache and no download allowed: starting from random weights.")


def test_train_model_trains_once_then_reuses_until_the_settings_change(sample_slices, tmp_path, capsys, monkeypatch):
    from lgg_utils import data, splits

    profile = config.get_profile("fast", env={"LGG_IMAGE_SIZE": "32", "LGG_WIDTH": "0.0625", "LGG_EPOCHS": "2"})
    split = splits.make_splits(data.patient_table(sample_slices), tmp_path / "splits.csv")
    first = training.train_model("resunet", sample_slices, split, profile, tmp_path / "resunet")
    assert first[2] and len(first[1]) == 2 and (tmp_path / "resunet" / "model.keras").is_file()
    monkeypatch.setattr(training, "pretrained", no_imagenet_weights)  # as offline, where a backbone wants them
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # loading a saved model: nothing starts from random weights
        again = training.train_model("resunet", sample_slices, split, profile, tmp_path / "resunet")
    assert not again[2]
    (tmp_path / "resunet" / "metrics.json").write_text('{"val": {"threshold": 0.9}}')  # the old model's
    changed = config.get_profile("fast", env={"LGG_IMAGE_SIZE": "32", "LGG_WIDTH": "0.0625", "LGG_EPOCHS": "1"})
    with pytest.warns(UserWarning, match="random weights"):  # training: it does
        assert training.train_model("resunet", sample_slices, split, changed, tmp_path / "resunet")[2]
    assert "retraining and replacing it" in capsys.readouterr().out
    assert not (tmp_path / "resunet" / "metrics.json").exists()  # no stale scores or threshold beside the new model
    table = volumes.volume_table(sample_slices, progress=False)
    assert training.train_model("resunet", sample_slices, split, changed, tmp_path / "resunet", volumes=table)[2]
    assert "volumes changed" in capsys.readouterr().out  # intensities per volume: another model


def test_a_sampling_draws_the_training_slices_in_place_of_the_tumour_share(sample_slices, tmp_path, monkeypatch):
    from lgg_utils import data, splits

    split = splits.make_splits(data.patient_table(sample_slices), tmp_path / "splits.csv")
    requested = []

    def make_dataset(rows, *args, **options):  # stands in for the pipeline, then stops before training
        requested.append((rows, options))
        raise InterruptedError

    monkeypatch.setattr(training, "make_dataset", make_dataset)
    for sampling in (None, lambda rows: np.arange(len(rows), dtype=float)):
        with pytest.raises(InterruptedError):
            training.train_model("unet", sample_slices, split, config.get_profile("fast"), tmp_path / "unet",
                                 sampling=sampling)
    (_, by_share), (rows, by_weight) = requested
    assert by_share["tumour_share"] == training.RECIPES["unet"].tumour_share and by_share["weights"] is None
    assert by_weight["tumour_share"] is None and list(by_weight["weights"]) == list(range(len(rows)))
    assert set(rows.patient) == set(split.index[split == "train"])  # weights of the training rows


def test_a_unet_trained_on_neighbouring_slices_takes_their_channels_and_records_it(sample_slices, tmp_path):
    from lgg_utils import data, splits

    profile = config.get_profile("fast", env={"LGG_IMAGE_SIZE": "32", "LGG_WIDTH": "0.0625", "LGG_EPOCHS": "1"})
    split = splits.make_splits(data.patient_table(sample_slices), tmp_path / "splits.csv")
    model, _, trained = training.train_model("unet", sample_slices, split, profile, tmp_path / "unet", neighbours=True)
    assert trained and model.input_shape[-1] == 9
    assert artifacts.read_fingerprint(tmp_path / "unet")["neighbours"]["function"] == "lgg_utils.pipeline.with_neighbours"
    neighboured = pipeline.with_neighbours(sample_slices)  # a table with the neighbours trains a plain UNet without
    assert training.train_model("unet", neighboured, split, profile, tmp_path / "unet")[0].input_shape[-1] == 3


def test_imagenet_weights_and_neighbouring_slices_are_refused_together(monkeypatch):
    monkeypatch.setattr(training, "pretrained", lambda recipe, profile: "imagenet")
    with pytest.raises(ValueError, match="ImageNet weights, which take 3 channels"):
        training.train_model("vgg19_unet", None, None, config.get_profile("laptop"), neighbours=True)


def test_command_line_trains_scores_and_writes_metrics(tmp_path, monkeypatch, capsys):
    for variable, value in {"LGG_PROFILE": "fast", "LGG_IMAGE_SIZE": "32", "LGG_WIDTH": "0.0625",
                            "LGG_EPOCHS": "1", "LGG_ARTIFACTS_DIR": str(tmp_path), "LGG_DATA_DIR": ""}.items():
        monkeypatch.setenv(variable, value)
    training.main(["unet"])
    out = capsys.readouterr().out
    assert "unet: trained, 1 epochs (" in out and "of training), profile fast" in out and "tumour slices" in out
    metrics = (tmp_path / "fast" / "seed-42" / "unet" / "metrics.json").read_text()
    assert '"val"' in metrics and '"test"' in metrics
    training.main(["unet", "--per-volume"])  # chapter 8's intensities: a folder of its own, recorded in the fingerprint
    assert "unet_volume: trained" in capsys.readouterr().out
    folder = tmp_path / "fast" / "seed-42" / "unet_volume"
    assert "volumes" in artifacts.read_fingerprint(folder) and (folder / "metrics.json").exists()


def test_a_classifiers_rows_replace_its_own_run_in_the_table_and_keep_the_others(tmp_path):
    path, laptop = tmp_path / "classifiers.csv", config.PROFILES["laptop"]
    scores = {split: {"threshold": 0.5, "accuracy": 0.8, "auc": 0.9} for split in ("train", "val", "test")}
    training.write_classifier_rows(path, "classifier", scores, 30.0, laptop)
    training.write_classifier_rows(path, "classifier_volume", scores, 40.0, laptop)
    other_seed = dataclasses.replace(laptop, seed=1, split_seed=laptop.patient_seed)  # the same split
    training.write_classifier_rows(path, "classifier_volume", scores, 42.0, other_seed)
    better = {split: {**values, "auc": 0.95} for split, values in scores.items()}
    table = training.write_classifier_rows(path, "classifier_volume", better, 41.0, laptop)
    assert table.equals(pd.read_csv(path))
    assert table.groupby(["model", "seed"]).size().to_dict() == {("classifier", 42): 3, ("classifier_volume", 1): 3,
                                                                ("classifier_volume", 42): 3}
    assert table.groupby(["model", "seed"])["auc"].max().to_dict() == {
        ("classifier", 42): 0.9, ("classifier_volume", 1): 0.9, ("classifier_volume", 42): 0.95}
    assert list(table.split[:3]) == ["train", "val", "test"] and table["training minutes"].iloc[-1] == 41.0
    assert set(table["split seed"]) == {laptop.patient_seed} and set(table.profile) == {"laptop"}


def test_the_command_writes_only_a_classifiers_scores_to_a_table_it_can_write(tmp_path, capsys):
    with pytest.raises(SystemExit):
        training.main(["unet", "--out", str(tmp_path / "scores.csv")])
    assert "unet is a segmenter" in capsys.readouterr().err and not (tmp_path / "scores.csv").exists()
    for out in (tmp_path, tmp_path / "missing" / "scores.csv"):  # a folder; a file in a folder that is not there
        with pytest.raises(SystemExit):
            training.main(["classifier", "--out", str(out)])
        assert "expected a CSV file in an existing folder" in capsys.readouterr().err
    (tmp_path / "other.csv").write_text("step,dice\nstudy recipe,0.8\n")
    with pytest.raises(ValueError, match="not a table of classifiers' runs: it has no column model, profile"):
        training.write_classifier_rows(tmp_path / "other.csv", "classifier", {"test": {"auc": 0.9}}, 1.0,
                                       config.PROFILES["laptop"])
    assert (tmp_path / "other.csv").read_text() == "step,dice\nstudy recipe,0.8\n"  # left as it was


def test_a_classifier_is_scored_with_the_intensities_it_was_trained_on(monkeypatch):
    from lgg_utils import scoring

    given = []
    def predict_tumour(model, rows, volumes=None):
        given.append(volumes)
        return np.array([0, 1]), np.array([0.2, 0.9])

    monkeypatch.setattr(scoring, "predict_tumour", predict_tumour)
    monkeypatch.setattr(training, "split_rows", lambda slices, split, which: which)
    training.score_splits("classifier", None, None, None, volumes="per-volume statistics")
    assert given == ["per-volume statistics"] * 3  # train, val and test


def test_saved_scores_are_read_where_current_and_scored_where_missing_or_stale(tmp_path, monkeypatch):
    monkeypatch.setenv("LGG_ARTIFACTS_DIR", str(tmp_path))
    profile = config.get_profile("fast")
    (config.artifacts_dir(profile) / "classifier").mkdir(parents=True)
    monkeypatch.setattr(training, "score_splits", lambda *args: {"test": {"threshold": 0.3}})
    assert training.saved_scores("classifier", None, None, None, profile) == {"test": {"threshold": 0.3}}
    monkeypatch.setattr(training, "score_splits", lambda *args: {"train": {"threshold": 0.4}})
    assert training.saved_scores("classifier", None, None, None, profile) == {"train": {"threshold": 0.4}}  # stale: no "train"
    monkeypatch.setattr(training, "score_splits", lambda *args: pytest.fail("scored again"))
    assert training.saved_scores("classifier", None, None, None, profile) == {"train": {"threshold": 0.4}}


def test_pretrained_weights_only_where_the_profile_and_cache_allow(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "models").mkdir()
    for file in models.KERAS_WEIGHTS.values():
        (tmp_path / "models" / file).write_bytes(b"")
    fast, laptop, full = (config.get_profile(name, env={}) for name in ("fast", "laptop", "full"))
    classifier, vgg = training.RECIPES["classifier"], training.RECIPES["vgg19_unet"]
    assert training.pretrained(classifier, fast) is None  # the fast profile never uses ImageNet weights
    assert training.pretrained(classifier, laptop) == "imagenet"  # ResNet50 keeps its widths
    assert training.pretrained(vgg, laptop) is None and training.pretrained(vgg, full) == "imagenet"
    assert training.pretrained(training.RECIPES["unet"], full) is None
    (tmp_path / "models" / models.KERAS_WEIGHTS["resnet50"]).unlink()
    with pytest.warns(UserWarning, match="random weights"):
        assert training.pretrained(classifier, laptop) is None


def test_classifier_trains_on_labels_and_gets_a_threshold_from_the_training_patients(sample_slices, tmp_path):
    from lgg_utils import data, scoring, splits

    profile = config.get_profile("fast", env={"LGG_IMAGE_SIZE": "32", "LGG_EPOCHS": "1"})
    split = splits.make_splits(data.patient_table(sample_slices), tmp_path / "splits.csv")
    model, history, trained = training.train_model("classifier", sample_slices, split, profile, tmp_path / "c")
    assert trained and {"accuracy", "val_accuracy"} <= set(history.columns)
    results = training.score_splits("classifier", model, sample_slices, split)
    chosen = scoring.choose_threshold(*scoring.predict_tumour(model, splits.split_rows(sample_slices, split, "train")))
    assert results["train"]["threshold"] == results["val"]["threshold"] == results["test"]["threshold"] == chosen
    assert results["test at 0.5"]["threshold"] == 0.5
    assert sum(results["test"][k] for k in ("tn", "fp", "fn", "tp")) == (sample_slices.patient.map(split) == "test").sum()
    assert "accuracy" in training.results_table(results).index
    truth = np.array([0, 1, 1, 0])
    given = {which: (truth, np.array([0.1, 0.7, 0.8, 0.2])) for which in ("train", "val", "test")}
    reused = training.score_splits("classifier", None, sample_slices, split, given)  # no model: nothing predicted again
    assert reused["test"]["accuracy"] == 1 and reused["test"]["threshold"] == scoring.choose_threshold(*given["train"])


def test_colab_may_download_the_imagenet_weights(tmp_path, monkeypatch):
    import sys
    import types

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # an empty cache
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    assert training.pretrained(training.RECIPES["classifier"], config.get_profile("laptop", env={})) == "imagenet"


def test_reproducible_runs_give_the_same_weights_and_another_seed_other_weights():
    def train(seed):
        training.reproducible(seed)
        model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3, padding="same", activation="relu"),
                                  keras.layers.BatchNormalization(), keras.layers.Conv2D(1, 1, activation="sigmoid")])
        training.compile_model(model, losses.bce).fit(squares(n=16, size=16), epochs=1, verbose=0)
        return model.get_weights()

    first, again, other = train(7), train(7), train(8)
    assert is_op_determinism_enabled()
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


@pytest.mark.parametrize("epochs, kept", [(40, 17), (2, 0)])
def test_kept_epoch_is_the_best_validation_loss_after_the_warm_up(epochs, kept):
    profile = config.get_profile("fast", env={"LGG_EPOCHS": str(epochs)})  # the classifier: half the epochs
    history = pd.DataFrame({"val_loss": np.r_[np.linspace(0.1, 0.2, 15), [0.5, 0.4, 0.3, 0.35, 0.45]][:max(1, epochs // 2)]})
    assert training.kept_epoch("classifier", history, profile) == kept  # warm-up: 15 of 20 epochs, or all of 1


def test_time_estimate_prints_the_whole_training_from_the_first_steps(capsys):
    model = training.compile_model(models.unet((32, 32, 3), width=0.125), losses.bce_dice_loss)
    model.fit(squares(n=16 * 8), epochs=1, verbose=0, callbacks=[training.TimeEstimate(epochs=30, first=1, last=5)])
    out = capsys.readouterr().out
    assert "Estimated on this machine:" in out and "at most 30 epochs of 8 steps" in out and "LGG_EPOCHS" in out


def test_under_mixed_precision_the_model_computes_in_float16_and_its_output_layer_in_float32(tmp_path):
    profile = config.get_profile("fast")
    try:
        keras.mixed_precision.set_global_policy("mixed_float16")
        model = training.build("unet", profile)
        model.save(tmp_path / "model.keras")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.get_layer("enc1_conv1").compute_dtype == "float16"
    output = model(np.zeros((1, 64, 64, 3), "float32"))
    assert model.get_layer("mask").compute_dtype == "float32" and output.dtype == "float32"
    loaded = artifacts.load_model(tmp_path)  # no GPU here: the saved float16 layers compute in float32
    assert {layer.compute_dtype for layer in loaded.layers} == {"float32"}


def test_mixed_precision_is_on_exactly_when_a_gpu_is_visible(monkeypatch):
    try:
        monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: ["GPU:0"] if kind == "GPU" else [])
        assert training.mixed_precision() and keras.mixed_precision.global_policy().name == "mixed_float16"
        monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
        assert not training.mixed_precision() and keras.mixed_precision.global_policy().name == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_options_are_recorded_only_when_used_and_an_augmentation_or_sampling_with_its_code(monkeypatch):
    from lgg_utils import augmentation, pipeline

    profile, recipe, split = config.get_profile("fast"), training.RECIPES["unet"], pd.Series({"a": "train"})
    plain = training.training_record("unet", recipe, profile, None, split, 10)
    assert not {"augmentation", "sampling", "neighbours", "volumes", "precision", "replicas"} & set(plain)
    flips = training.training_record("unet", recipe, profile, None, split, 10,
                                     augmentation=augmentation.flip)
    assert flips["augmentation"]["function"] == "lgg_utils.augmentation.flip"
    assert "augmentation.flip" in flips["augmentation"]["code"]
    by_area = training.training_record("unet", recipe, profile, None, split, 10,
                                       sampling=pipeline.tumour_area_weights)
    assert by_area["sampling"]["function"] == "lgg_utils.pipeline.tumour_area_weights"
    assert "pipeline.tumour_area_weights" in by_area["sampling"]["code"]
    monkeypatch.setattr(training, "replica_devices", lambda: ["/gpu:0", "/gpu:1"])
    assert training.training_record("unet", recipe, profile, None, split, 10)["replicas"] == 2


MIRRORED = """
import sys, dataclasses, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from pathlib import Path
import numpy as np
from lgg_utils import artifacts, config, data, splits, training
training.replica_devices = lambda: ["/cpu:0", "/cpu:1"]
profile = dataclasses.replace(config.PROFILES["fast"], epochs=2, image_size=32)
slices = data.slice_table(data.SAMPLE_DIR, progress=False)
split = splits.split_patients(data.patient_table(slices))
folder = Path(sys.argv[1])
model, history, trained = training.train_model("unet", slices, split, profile, folder)
assert trained and len(history) == 2 and np.isfinite(history.loss).all()
assert artifacts.read_fingerprint(folder)["replicas"] == 2
images = np.random.default_rng(0).random((4, 32, 32, 3), dtype=np.float32)
assert np.allclose(model.predict(images, verbose=0), artifacts.load_model(folder).predict(images, verbose=0), atol=1e-5)
print("mirrored ok")
"""


def test_training_on_two_devices_with_mirrored_strategy_saves_a_model_one_device_loads(tmp_path):
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", MIRRORED, str(tmp_path / "unet")], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and "mirrored ok" in run.stdout, run.stderr[-3000:]
    assert "MirroredStrategy" in run.stdout and "global batch" in run.stdout
