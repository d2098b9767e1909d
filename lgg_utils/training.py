"""One training helper for every model: compile, fit with early stopping, save and reuse artifacts.

A model's artifact is a folder ``artifacts/<profile>/<name>/`` holding ``model.keras`` (the best
epoch), ``history.csv`` and ``fingerprint.json``. It is reused while its fingerprint (profile, split,
training settings) matches, and retrained when it is missing or stale.
"""
import hashlib
import json
from pathlib import Path

import keras
import pandas as pd
import tensorflow as tf
from tqdm.auto import tqdm


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


def fit(model, train, val, epochs, patience, monitor="val_loss", mode="min", checkpoint=None, callbacks=()):
    """Train with early stopping on ``monitor`` (best weights restored); return the history as a table."""
    stop = keras.callbacks.EarlyStopping(monitor, patience=patience, mode=mode, restore_best_weights=True)
    extra = [keras.callbacks.ModelCheckpoint(checkpoint, monitor=monitor, mode=mode, save_best_only=True)] \
        if checkpoint else []
    history = model.fit(train, validation_data=val, epochs=epochs, verbose=0, shuffle=False,
                        callbacks=[stop, EpochProgress(epochs, model.name), *extra, *callbacks])
    return pd.DataFrame(history.history).rename_axis("epoch")


def fingerprint(**settings):
    """A stable JSON-able record of what an artifact was trained from (paths hashed by content)."""
    record = {}
    for key, value in sorted(settings.items()):
        if isinstance(value, Path):
            value = hashlib.sha256(value.read_bytes()).hexdigest()[:16]
        record[key] = value if isinstance(value, (int, float, str, bool, type(None))) else repr(value)
    return record


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
