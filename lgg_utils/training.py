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
import pandas as pd
import tensorflow as tf
from tqdm.auto import tqdm

from . import losses, models
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
    """How one segmenter is trained: its builder, loss, learning rate and sampling."""

    build: Callable
    loss: Callable
    learning_rate: float = 1e-3
    tumour_share: float | None = 0.5  # share of tumour slices drawn in training (None: as in the data)
    monitor: str = "val_loss"


RECIPES = {
    "unet": Recipe(models.unet, losses.bce),
    "resunet": Recipe(models.resunet, losses.tversky_loss),
    "vgg19_unet": Recipe(models.vgg19_unet, losses.focal_tversky_loss),
}


def train_segmenter(name, slices, split, profile, folder, recipe=None):
    """The trained segmenter ``name`` and its history: loaded from ``folder`` when its fingerprint
    matches, else trained on the train split (early stopping on the val split) and saved there."""
    recipe = recipe or RECIPES[name]
    record = fingerprint(model=name, profile=profile, recipe=recipe, split=split, slices=len(slices))
    saved = load_artifact(folder, record)
    if saved is not None:
        return (*saved, False)
    if (Path(folder) / "model.keras").exists():
        print(f"{folder} was trained with other settings or another split: retraining and replacing it.")
    keras.utils.set_random_seed(profile.seed)
    rows = {part: slices[slices.patient.map(split) == part] for part in ("train", "val")}
    train = make_dataset(rows["train"], profile.image_size, profile.batch_size, training=True,
                         seed=profile.seed, tumour_share=recipe.tumour_share)
    val = make_dataset(rows["val"], profile.image_size, profile.batch_size)
    model = recipe.build((profile.image_size, profile.image_size, 3), width=profile.width)
    compile_model(model, recipe.loss, learning_rate=recipe.learning_rate)
    schedule = keras.callbacks.ReduceLROnPlateau(recipe.monitor, factor=0.5, patience=max(1, profile.patience // 2))
    history = fit(model, train, val, profile.epochs, profile.patience, monitor=recipe.monitor, callbacks=[schedule])
    save_artifact(folder, model, history, record)
    return model, history, True


def main(argv=None):
    """Command line: train (or load) a segmenter in the active profile, then score it on val and test."""
    from .config import artifacts_dir, get_profile
    from .data import find_data_dir, limit_patients, patient_table, slice_table
    from .evaluation import predict, slice_scores, summarise
    from .splits import make_splits

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("model", choices=sorted(RECIPES))
    name = parser.parse_args(argv).model
    profile = get_profile()
    slices = limit_patients(slice_table(find_data_dir()), profile.patients, seed=profile.seed)
    folder = artifacts_dir(profile)
    split = make_splits(patient_table(slices), folder / "splits.csv", seed=profile.seed)
    model, history, trained = train_segmenter(name, slices, split, profile, folder / name)
    print(f"{name}: {'trained' if trained else 'loaded'}, {len(history)} epochs, profile {profile.name}")
    results = {}
    for part in ("val", "test"):
        rows = slices[slices.patient.map(split) == part]
        results[part] = summarise(slice_scores(rows, *predict(model, rows, profile.image_size)))
        print(f"{part}:\n{results[part].round(3).to_string()}")
    (folder / name / "metrics.json").write_text(json.dumps({k: v.to_dict() for k, v in results.items()}, indent=2))


if __name__ == "__main__":
    main()
