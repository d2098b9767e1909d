"""Saved models: the one place that saves, fingerprints, finds and loads them and their scores.

An artifact is a folder ``<artifacts>/<model>/`` (``config.artifacts_dir`` keys ``<artifacts>`` by profile
and seed) holding ``model.keras`` (the best epoch), ``history.csv``, ``metrics.json`` (validation and test
scores; the classifier's also on the training patients, with its threshold) and ``fingerprint.json``: what
the model was trained from (profile, recipe, split, the source code of the model builder and the loss and
the constants they read, the Keras version). A model is used only while its fingerprint matches; a retrain
removes every file of the old artifact first and writes the fingerprint last, so a broken save is never used.
"""
import dataclasses
import hashlib
import inspect
import json
from pathlib import Path

import keras
import pandas as pd

from .config import gpu_available

FILES = ("fingerprint.json", "metrics.json", "history.csv", "model.keras")  # removed in this order
CONSTANTS = (int, float, str, tuple)  # module constants (upper-case names) whose value a fingerprint records


def describe(value):
    """A JSON-able description of a setting: tables by content hash, functions by name, dataclasses by field."""
    if isinstance(value, (pd.Series, pd.DataFrame)):
        return hashlib.sha256(value.sort_index().to_json().encode()).hexdigest()[:16]
    if dataclasses.is_dataclass(value):
        return {f.name: describe(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if callable(value):
        return f"{value.__module__}.{value.__qualname__}"
    return value


def _names(code):
    """The global names a code object (and the functions, lambdas and comprehensions inside it) refers to."""
    yield from code.co_names
    for constant in code.co_consts:
        if inspect.iscode(constant):
            yield from _names(constant)


def code_hashes(*functions):
    """A short hash of the source of each function and of every function of its package it calls, and the
    value of every module constant they read, by module and name (``models.decoder_block``,
    ``losses.FOCAL_GAMMA``): editing any of them changes the fingerprint of what was built with it."""
    hashes, todo = {}, [f for f in functions if callable(f)]
    while todo:
        function = todo.pop()
        module = function.__module__.rsplit(".", 1)[-1]
        name = f"{module}.{function.__qualname__}"
        if name in hashes:
            continue
        hashes[name] = hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:12]
        package = function.__module__.split(".")[0]
        used = {n: getattr(inspect.getmodule(function), n, None) for n in _names(function.__code__)}
        hashes.update({f"{module}.{n}": repr(v) for n, v in used.items() if n.isupper() and isinstance(v, CONSTANTS)})
        todo += [f for f in used.values() if inspect.isfunction(f) and f.__module__.split(".")[0] == package]
    return dict(sorted(hashes.items()))


def fingerprint(recipe=None, **settings):
    """What an artifact is trained from: the settings, and with a ``recipe`` the source of its builder and
    loss and the Keras version."""
    if recipe is not None:
        settings.update(recipe=recipe, code=code_hashes(recipe.build, recipe.loss), keras=keras.__version__)
    return json.loads(json.dumps({key: describe(value) for key, value in sorted(settings.items())}))


def changes(saved, expected):
    """What differs between two fingerprints, in words: the settings by name, and code by function."""
    def differing(old, new):
        return [key for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)]

    saved, expected = saved or {}, expected or {}
    found = [key for key in differing(saved, expected) if key != "code"]
    return found + [f"the code or value of {name}" for name in differing(saved.get("code", {}), expected.get("code", {}))]


def _read_json(path):
    """A JSON file's content, or None where it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def read_fingerprint(folder):
    """The fingerprint saved in an artifact folder, or None where there is none (never trained, or a broken save)."""
    return _read_json(Path(folder) / "fingerprint.json")


def load_model(folder):
    """The folder's ``model.keras``, loaded in Keras safe mode (a file that carries code is refused). A model
    trained in mixed precision (on a GPU) computes in float32 where no GPU is visible."""
    model = keras.saving.load_model(Path(folder) / "model.keras", compile=False, safe_mode=True)
    if not gpu_available():
        _compute_in_float32(model)
    return model


def _compute_in_float32(model):
    """Set every layer of ``model`` (and of the models inside it) to compute in float32."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            _compute_in_float32(layer)
        layer.dtype_policy = "float32"


def load(folder, expected):
    """The saved model and its history if the folder's fingerprint equals ``expected``, else None."""
    folder = Path(folder)
    if read_fingerprint(folder) != expected or not (folder / "model.keras").is_file():
        return None
    return load_model(folder), pd.read_csv(folder / "history.csv", index_col="epoch")


def save(folder, model, history, record):
    """Save model, history and fingerprint, after removing every file of the old artifact (its scores and
    classifier threshold belong to the old model); the fingerprint last."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        (folder / name).unlink(missing_ok=True)
    model.save(folder / "model.keras")
    history.to_csv(folder / "history.csv")
    (folder / "fingerprint.json").write_text(json.dumps(record, indent=2))


def per_volume(folder):
    """Whether the artifact's model was trained on intensities prepared per patient volume (``volumes``)."""
    return "volumes" in (read_fingerprint(folder) or {})


def save_metrics(folder, results):
    """Write a model's scores to ``metrics.json`` beside it (the evaluation chapter reads them)."""
    (Path(folder) / "metrics.json").write_text(json.dumps(results, indent=2, default=float))


def read_metrics(folder):
    """A model's saved scores (``metrics.json``), or None where none were saved for the current model."""
    return _read_json(Path(folder) / "metrics.json")


def trained_threshold(artifacts, name="classifier"):
    """The decision threshold chosen for classifier ``name`` on the training patients (its ``metrics.json``); None
    where there is none (no scores, or scores saved before the threshold was chosen there: no "train" entry)."""
    return ((read_metrics(Path(artifacts) / name) or {}).get("train") or {}).get("threshold")


def classifier_threshold(artifacts, name="classifier"):
    """``trained_threshold``, else 0.5."""
    threshold = trained_threshold(artifacts, name)
    return 0.5 if threshold is None else threshold


def load_models(artifacts, recipes, commands=None):
    """The saved models of an artifacts folder whose code is current (``recipes``: name -> recipe), loaded in
    safe mode; and for each model left out, the reason (no fingerprint, or which function changed since) and
    the command that retrains it (``commands``: name -> command, default ``python -m lgg_utils.training <name>``)."""
    models, stale = {}, {}
    for name, recipe in recipes.items():
        folder = Path(artifacts) / name
        if not (folder / "model.keras").is_file():
            continue
        saved = read_fingerprint(folder)
        current = {key: value for key, value in fingerprint(recipe).items() if key in ("code", "keras")}
        differ = changes({key: saved.get(key) for key in current}, current) if saved else ["no fingerprint"]
        if differ:
            command = (commands or {}).get(name, f"python -m lgg_utils.training {name}")
            stale[name] = f"{folder} is stale: {', '.join(differ)}. Retrain it (`{command}`)."
        else:
            models[name] = load_model(folder)
    return models, stale
