"""One training helper for every model: compile, fit with early stopping, save and reuse artifacts.

A model's artifact is a folder ``artifacts/<profile>/<name>/`` holding ``model.keras`` (the best
epoch), ``history.csv`` and ``fingerprint.json``. It is reused while its fingerprint (profile, split,
training settings) matches, and retrained when it is missing or stale.
"""
import argparse
import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from tqdm.auto import tqdm

from . import losses, models
from .config import in_colab
from .metrics import dice_metric
from .pipeline import make_dataset


def compile_model(model, loss, metrics=(), learning_rate=1e-3):
    """Compile with Adam; XLA only on a GPU (on a CPU it compiles slower and steps slower)."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=list(metrics),
                  jit_compile=bool(tf.config.list_physical_devices("GPU")))
    return model


class EpochProgress(keras.callbacks.Callback):
    """A progress bar with one tick per epoch, showing the latest losses and metrics."""

    def __init__(self, epochs, description):
        super().__init__()
        self.bar = tqdm(total=epochs, desc=description, unit="epoch")

    def on_epoch_end(self, epoch, logs=None):
        self.bar.set_postfix({k: f"{v:.3f}" for k, v in (logs or {}).items() if k != "learning_rate"})
        self.bar.update(1)

    def on_train_end(self, logs=None):
        self.bar.close()


def fit(model, train, val, epochs, patience, monitor="val_loss", mode="min", callbacks=()):
    """Train with early stopping on ``monitor`` (best weights restored); return the history as a table."""
    stop = keras.callbacks.EarlyStopping(monitor, patience=patience, mode=mode, restore_best_weights=True)
    history = model.fit(train, validation_data=val, epochs=epochs, verbose=0, shuffle=False,
                        callbacks=[stop, EpochProgress(epochs, model.name), *callbacks])
    return pd.DataFrame(history.history).rename_axis("epoch")


def _stable(value):
    """A JSON-able description of a setting: tables by content hash, functions by name, dataclasses by field."""
    if isinstance(value, (pd.Series, pd.DataFrame)):
        return hashlib.sha256(value.sort_index().to_json().encode()).hexdigest()[:16]
    if dataclasses.is_dataclass(value):
        return {f.name: _stable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if callable(value):
        return f"{value.__module__}.{value.__qualname__}"
    return value


def fingerprint(**settings):
    """A record of what an artifact was trained from; a saved model is reused only while it is unchanged.
    (Code changes inside a model or loss are not seen: delete the artifact folder to retrain.)"""
    return json.loads(json.dumps({key: _stable(value) for key, value in sorted(settings.items())}))


def load_artifact(folder, expected):
    """The saved model and its history if the folder's fingerprint equals ``expected``, else None."""
    folder = Path(folder)
    try:
        saved = json.loads((folder / "fingerprint.json").read_text())
    except (OSError, ValueError):
        return None
    if saved != expected or not (folder / "model.keras").is_file():
        return None
    model = keras.saving.load_model(folder / "model.keras", compile=False, safe_mode=True)
    return model, pd.read_csv(folder / "history.csv", index_col="epoch")


def save_artifact(folder, model, history, record):
    """Save model, history and fingerprint (the fingerprint last, so a broken save is never reused)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fingerprint.json").unlink(missing_ok=True)
    model.save(folder / "model.keras")
    history.to_csv(folder / "history.csv")
    (folder / "fingerprint.json").write_text(json.dumps(record, indent=2))


@dataclass(frozen=True)
class Recipe:
    """How one model is trained: builder, loss, metric, learning rate, sampling and ImageNet backbone."""

    build: Callable
    loss: Callable | str
    metric: str = "dice"  # logged each epoch: "dice" for masks, "accuracy" for labels
    target: str = "mask"  # what the model predicts: "mask" or "label"
    learning_rate: float = 1e-3
    tumour_share: float | None = 0.5  # share of tumour slices drawn in training (None: as in the data)
    backbone: str | None = None  # ImageNet backbone whose cached weights the laptop and full profiles use
    epoch_share: float = 1.0  # share of the profile's epochs this model trains for at most


RECIPES = {
    "classifier": Recipe(models.resnet50_classifier, "sparse_categorical_crossentropy", metric="accuracy",
                         target="label", backbone="resnet50", epoch_share=0.5),  # a step costs ~2x a segmenter's
    "unet": Recipe(models.unet, losses.bce),
    "resunet": Recipe(models.resunet, losses.tversky_loss),
    "vgg19_unet": Recipe(models.vgg19_unet, losses.focal_tversky_loss, backbone="vgg19"),
}
METRICS = {"dice": lambda: keras.metrics.MeanMetricWrapper(dice_metric, name="dice"), "accuracy": lambda: "accuracy"}


def recipe_table(name):
    """The training recipe of model ``name`` as a table (functions by their names)."""
    return pd.Series(_stable(RECIPES[name])).rename_axis("setting").to_frame(name)


def pretrained(recipe, profile):
    """'imagenet' where the recipe's backbone has ImageNet weights that fit the profile, cached (or, in
    Colab, to download), else None. The fast profile always starts from random weights; VGG19's weights
    need the full width."""
    if recipe.backbone is None or profile.name == "fast" or (recipe.backbone == "vgg19" and profile.width != 1):
        return None
    return models.imagenet(recipe.backbone, allow_download=in_colab())


def build(name, profile, weights=None):
    """The untrained model ``name`` at the profile's image size and width, initialised from the profile's
    seed (so it is the model that training starts from)."""
    keras.utils.set_random_seed(profile.seed)
    extra = {"weights": weights} if weights else {}
    return RECIPES[name].build((profile.image_size, profile.image_size, 3), width=profile.width, **extra)


def train_model(name, slices, split, profile, folder, recipe=None):
    """The trained model ``name`` and its history: loaded from ``folder`` when its fingerprint matches,
    else trained on the train split (early stopping on validation loss, best weights) and saved there.
    ``recipe`` replaces the model's own (``RECIPES[name]``), e.g. to try another loss."""
    recipe = recipe or RECIPES[name]
    weights = pretrained(recipe, profile)
    record = fingerprint(model=name, profile=profile, recipe=recipe, weights=weights, split=split, slices=len(slices))
    saved = load_artifact(folder, record)
    if saved is not None:
        return (*saved, False)
    if (Path(folder) / "model.keras").exists():
        print(f"{folder} was trained with other settings or another split: retraining and replacing it.")
    rows = {part: slices[slices.patient.map(split) == part] for part in ("train", "val")}
    train = make_dataset(rows["train"], profile.image_size, profile.batch_size, training=True,
                         target=recipe.target, seed=profile.seed, tumour_share=recipe.tumour_share)
    val = make_dataset(rows["val"], profile.image_size, profile.batch_size, target=recipe.target)
    model = build(name, profile, weights)
    compile_model(model, recipe.loss, [METRICS[recipe.metric]()], recipe.learning_rate)
    schedule = keras.callbacks.ReduceLROnPlateau("val_loss", factor=0.5, patience=max(1, profile.patience // 2))
    epochs = max(1, round(profile.epochs * recipe.epoch_share))
    history = fit(model, train, val, epochs, profile.patience, callbacks=[schedule])
    save_artifact(folder, model, history, record)
    return model, history, True


def evaluate(name, model, slices, split, size):
    """Validation and test scores of a trained model; a classifier's threshold is chosen on validation."""
    from . import evaluation

    parts = {part: slices[slices.patient.map(split) == part] for part in ("val", "test")}
    if RECIPES[name].target == "label":
        val, test = (evaluation.predict_tumour(model, rows, size) for rows in parts.values())
        threshold = evaluation.choose_threshold(*val)
        return {"val": evaluation.classifier_summary(*val, threshold),
                "test": evaluation.classifier_summary(*test, threshold),
                "test at 0.5": evaluation.classifier_summary(*test)}
    return {part: evaluation.summarise(evaluation.slice_scores(rows, *evaluation.predict(model, rows, size))).to_dict()
            for part, rows in parts.items()}


def save_metrics(folder, results):
    """Write ``evaluate``'s results to ``metrics.json`` beside the model (the evaluation chapter reads them)."""
    (Path(folder) / "metrics.json").write_text(json.dumps(results, indent=2, default=float))


def results_table(results):
    """``evaluate``'s results as one table: a column per split (classifier) or a row block per split."""
    if all(np.isscalar(v) for v in next(iter(results.values())).values()):
        return pd.DataFrame(results)
    return pd.concat({part: pd.DataFrame(scores) for part, scores in results.items()})


def main(argv=None):
    """Command line: train (or load) a model in the active profile, score it on val and test, save metrics.json."""
    from .config import artifacts_dir, get_profile
    from .data import find_data_dir
    from .splits import course_data

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("model", choices=sorted(RECIPES))
    name = parser.parse_args(argv).model
    profile = get_profile()
    slices, split = course_data(profile, find_data_dir(), progress=True)
    folder = artifacts_dir(profile)
    model, history, trained = train_model(name, slices, split, profile, folder / name)
    print(f"{name}: {'trained' if trained else 'loaded'}, {len(history)} epochs, profile {profile.name}")
    results = evaluate(name, model, slices, split, profile.image_size)
    print(results_table(results).round(3).to_string())
    save_metrics(folder / name, results)


if __name__ == "__main__":
    main()
