"""One training helper for every model: the recipes, compile, fit with early stopping, and a saved model
reused while its fingerprint matches (``artifacts``), retrained when it is missing or stale.
"""
import argparse
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from tqdm.auto import tqdm
from tqdm.keras import TqdmCallback

from . import artifacts, losses, models
from .chapter_times import duration
from .config import artifacts_dir, gpu_available, in_colab
from .metrics import dice_metric
from .augmentation import augment
from .pipeline import SEQUENCES, WITH_NEIGHBOURS, for_channels, make_dataset, with_neighbours
from .splits import split_rows


def reproducible(seed):
    """Seed Python, NumPy and TensorFlow, and on a CPU make TensorFlow's ops deterministic, so a rerun on
    the same machine gives the same numbers; returns whether ops are deterministic. (Not on a GPU: the
    ResUNet's nearest-neighbour upsampling has no deterministic GPU gradient, and TensorFlow would refuse.)"""
    keras.utils.set_random_seed(seed)
    deterministic = not gpu_available()
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    return deterministic


def compile_model(model, loss, metrics=(), learning_rate=1e-3):
    """Compile with Adam; XLA only on a GPU (on a CPU it compiles slower and steps slower)."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss, metrics=list(metrics),
                  jit_compile=gpu_available())
    return model


class EpochSeconds(keras.callbacks.Callback):
    """Adds each epoch's wall-clock seconds to its logs (so to the history, as ``seconds``)."""

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs["seconds"] = time.perf_counter() - self.start


class TimeEstimate(keras.callbacks.Callback):
    """Prints, early in the first epoch, how long training will take on this machine: the seconds of the training
    steps from ``first`` to about ``last`` (after the warm-up of the first steps) times the steps of every epoch."""

    def __init__(self, epochs, first=2, last=12):
        super().__init__()
        self.epochs, self.first, self.last = epochs, first, last
        self.epoch, self.start, self.started, self.said = 0, None, 0, False

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        steps = self.params.get("steps")
        if self.epoch > 0 or not steps:
            return
        if self.start is None and batch >= self.first:
            self.start, self.started = time.perf_counter(), batch
        elif self.start is not None and batch >= min(self.last, steps - 1) and not self.said:
            self.said = True
            seconds = (time.perf_counter() - self.start) / (batch - self.started) * steps * self.epochs
            faster = "" if gpu_available() else "; a GPU is much faster"
            print(f"Estimated on this machine: {duration(seconds)} for the training steps of at most {self.epochs} epochs of "
                  f"{steps} steps (validation and other work per epoch come on top, most for short epochs; early "
                  f"stopping usually ends sooner). LGG_EPOCHS lowers the epochs{faster}.")


def fit(model, train, val, epochs, patience, monitor="val_loss", mode="min", callbacks=(), warmup=0):
    """Train with early stopping on ``monitor`` (best weights restored, from epoch ``warmup`` on); return the
    history as a table (with each epoch's ``seconds``)."""
    stop = keras.callbacks.EarlyStopping(monitor, patience=patience, mode=mode, restore_best_weights=True,
                                         start_from_epoch=warmup)
    history = model.fit(train, validation_data=val, epochs=epochs, verbose=0, shuffle=False,
                        callbacks=[EpochSeconds(), TimeEstimate(epochs), stop,
                                   TqdmCallback(epochs, verbose=0, tqdm_class=tqdm, desc=model.name), *callbacks])
    return pd.DataFrame(history.history).rename_axis("epoch")


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
    warmup_share: float = 0.0  # share of those epochs before early stopping watches (and keeps) the best epoch


RECIPES = {
    "classifier": Recipe(models.resnet50_classifier, "sparse_categorical_crossentropy", metric="accuracy",
                         target="label", backbone="resnet50", epoch_share=0.5,  # a step costs ~2x a segmenter's
                         warmup_share=0.75),  # from random weights, its validation loss is noise for most epochs
    "unet": Recipe(models.unet, losses.bce),
    "resunet": Recipe(models.resunet, losses.pooled_tversky_loss),
    "vgg19_unet": Recipe(models.vgg19_unet, losses.pooled_focal_tversky_loss, backbone="vgg19"),
}
SEGMENTERS = tuple(name for name, recipe in RECIPES.items() if recipe.target == "mask")
METRICS = {"dice": lambda: keras.metrics.MeanMetricWrapper(dice_metric, name="dice"), "accuracy": lambda: "accuracy"}


def max_epochs(recipe, profile):
    """The most epochs the recipe trains for in the profile."""
    return max(1, round(profile.epochs * recipe.epoch_share))


def warmup(recipe, profile):
    """The epochs before early stopping watches the validation loss (and may keep an epoch's weights)."""
    return round(max_epochs(recipe, profile) * recipe.warmup_share)


def kept_epoch(name, history, profile):
    """The epoch whose weights training kept: the lowest validation loss from the warm-up on (the last epoch
    when training ended before early stopping watched)."""
    return int(history.val_loss.iloc[min(warmup(RECIPES[name], profile), len(history) - 1):].idxmin())


def recipe_table(name):
    """The training recipe of model ``name`` as a table (functions by their names)."""
    return pd.Series(artifacts.describe(RECIPES[name])).rename_axis("setting").to_frame(name)


def pretrained(recipe, profile):
    """'imagenet' where the recipe's backbone has ImageNet weights that fit the profile, cached (or, in
    Colab, to download), else None. The fast profile always starts from random weights; VGG19's weights
    need the full width."""
    if recipe.backbone is None or profile.name == "fast" or (recipe.backbone == "vgg19" and profile.width != 1):
        return None
    return models.imagenet(recipe.backbone, allow_download=in_colab())


OUTPUTS = {"mask": "mask", "label": "label"}  # each target's output layer (``models.mask_head``, the classifier's head)


def mixed_precision():
    """Use mixed precision (float16 arithmetic, float32 weights) where a GPU is visible: sets Keras' global policy
    and returns whether it is mixed."""
    mixed = gpu_available()
    keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
    return mixed


def build(name, profile, weights=None, recipe=None, channels=SEQUENCES):
    """The untrained model ``name`` (built by ``recipe``, default its own) at the profile's image size and
    width, taking images of ``channels`` channels, initialised from the profile's seed (so it is the model that
    training starts from); trained with BCE, its mask bias starts at ``models.MASK_PRIOR_LOGIT``. Under mixed
    precision its output layer computes in float32 (a float16 sigmoid rounds to exactly 1 above a logit of about
    8), so the loss does too."""
    keras.utils.set_random_seed(profile.seed)
    recipe = recipe or RECIPES[name]
    extra = {"weights": weights} if weights else {}
    model = recipe.build((profile.image_size, profile.image_size, channels), width=profile.width, **extra)
    if recipe.loss in (losses.bce, losses.bce_dice_loss):
        kernel, bias = model.get_layer("mask").get_weights()
        model.get_layer("mask").set_weights([kernel, np.full_like(bias, models.MASK_PRIOR_LOGIT)])
    model.get_layer(OUTPUTS[recipe.target]).dtype_policy = "float32"  # a no-op without mixed precision
    return model


def replica_devices():
    """The devices one training is spread over: every GPU where there are several, else none (one device)."""
    gpus = [device.name for device in tf.config.list_logical_devices("GPU")]
    return gpus if len(gpus) > 1 else []


def distribution(devices):
    """``tf.distribute.MirroredStrategy`` over ``devices`` (a copy of the model on each, gradients averaged)
    where there are several, else the default strategy; says so, with the global batch and learning rate."""
    if len(devices) < 2:
        return tf.distribute.get_strategy()
    print(f"Training on {len(devices)} devices ({', '.join(devices)}) with MirroredStrategy: each takes the profile's "
          "batch, so the global batch is that many times larger; the learning rate is left as the recipe gives it.")
    return tf.distribute.MirroredStrategy(devices)


def training_record(name, recipe, profile, weights, split, slices, volumes=None, augmentation=augment, sampling=None,
                    neighbours=False):
    """The fingerprint of a model trained so (``artifacts.fingerprint``): the options that are not the defaults
    (intensities per volume, another augmentation or sampling with its code, neighbouring slices, mixed
    precision, several devices) are recorded only when used, so models trained before they existed stay valid."""
    policy, replicas = keras.mixed_precision.global_policy().name, len(replica_devices()) or 1
    def with_code(function):
        return {"function": artifacts.describe(function), "code": artifacts.code_hashes(function)}

    options = {**({} if volumes is None else {"volumes": volumes}),
               **({} if augmentation is augment else {"augmentation": with_code(augmentation)}),
               **({} if sampling is None else {"sampling": with_code(sampling)}),
               **({"neighbours": with_code(with_neighbours)} if neighbours else {}),
               **({} if policy == "float32" else {"precision": policy}),
               **({} if replicas == 1 else {"replicas": replicas})}
    return artifacts.fingerprint(recipe, model=name, profile=profile, weights=weights, split=split, slices=slices, **options)


def train_model(name, slices, split, profile, folder=None, recipe=None, volumes=None, augmentation=augment,
                sampling=None, neighbours=False):
    """The trained model ``name``, its history, and whether it was trained now: loaded from ``folder`` (default
    the profile's artifacts folder for ``name``) when its fingerprint matches, else trained on the train split
    (early stopping on validation loss, best weights) and saved there. ``recipe`` replaces the model's own
    (``RECIPES[name]``), e.g. to try another loss; ``volumes`` (``volumes.volume_table``) prepares
    intensities per patient volume; ``augmentation`` replaces chapter 1's (``pipeline.make_dataset``);
    ``sampling`` (training rows -> a weight per row, like ``pipeline.tumour_area_weights``) draws training
    slices by weight in place of the recipe's ``tumour_share``; with ``neighbours``, the model takes each slice
    with its neighbours' sequences (``pipeline.with_neighbours``; not with ImageNet weights, made for three)."""
    recipe = recipe or RECIPES[name]
    folder = folder or artifacts_dir(profile) / name
    mixed_precision()
    with warnings.catch_warnings(record=True) as missing_weights:  # said only when training: a load needs none
        warnings.simplefilter("always")
        weights = pretrained(recipe, profile)
    channels = WITH_NEIGHBOURS if neighbours else SEQUENCES
    if weights and neighbours:
        raise ValueError(f"{name} starts from ImageNet weights, which take {SEQUENCES} channels: train it without "
                         "neighbours, or in the fast profile (random weights).")
    record = training_record(name, recipe, profile, weights, split, len(slices), volumes, augmentation, sampling,
                             neighbours)
    saved = artifacts.load(folder, record)
    if saved is not None:
        return (*saved, False)
    for warning in missing_weights:
        warnings.warn(warning.message, stacklevel=2)
    if (Path(folder) / "model.keras").exists():
        changed = ", ".join(artifacts.changes(artifacts.read_fingerprint(folder), record)) or "an interrupted save"
        print(f"{folder} is stale ({changed} changed since it was trained): retraining and replacing it.")
    strategy = distribution(replica_devices())
    batch_size = profile.batch_size * strategy.num_replicas_in_sync
    slices = for_channels(slices, channels)
    rows = split_rows(slices, split, "train")
    slice_weights = None if sampling is None else sampling(rows)
    train = make_dataset(rows, profile.image_size, batch_size, training=True, target=recipe.target, seed=profile.seed,
                         tumour_share=recipe.tumour_share if slice_weights is None else None, volumes=volumes,
                         augmentation=augmentation, weights=slice_weights)
    val = make_dataset(split_rows(slices, split, "val"), profile.image_size, batch_size, target=recipe.target,
                       volumes=volumes)
    with strategy.scope():
        model = build(name, profile, weights, recipe, channels)
        compile_model(model, recipe.loss, [METRICS[recipe.metric]()], recipe.learning_rate)
    schedule = keras.callbacks.ReduceLROnPlateau("val_loss", factor=0.5, patience=max(1, profile.patience // 2))
    history = fit(model, train, val, max_epochs(recipe, profile), profile.patience, callbacks=[schedule],
                  warmup=warmup(recipe, profile))
    artifacts.save(folder, model, history, record)
    return model, history, True


def score_splits(name, model, slices, split, predictions=None, volumes=None):
    """A trained model's scores on the validation and test patients; a classifier's on the training patients
    too: its threshold is chosen there (the largest split, several times the validation slices) and applied to
    every split. ``predictions``: a classifier's (truth, probability) per split, where the caller has them;
    ``volumes``: intensities per patient volume, as the model was trained."""
    from . import scoring

    if RECIPES[name].target == "mask":
        results = {}
        for which in ("val", "test"):
            rows = split_rows(slices, split, which)
            predicted = scoring.predict(model, rows, volumes=volumes)
            results[which] = scoring.slice_means(scoring.slice_scores(rows, *predicted)).to_dict()
        return results
    predictions = predictions or {which: scoring.predict_tumour(model, split_rows(slices, split, which), volumes=volumes)
                                  for which in ("train", "val", "test")}
    threshold = scoring.choose_threshold(*predictions["train"])
    return {**{which: scoring.classifier_scores(*pair, threshold) for which, pair in predictions.items()},
            "test at 0.5": scoring.classifier_scores(*predictions["test"])}


def score_and_save(name, model, slices, split, profile, predictions=None, volumes=None, folder=None):
    """``score_splits``, saved as ``metrics.json`` beside the model (``folder``, default the profile's folder for
    ``name``); returns the scores."""
    results = score_splits(name, model, slices, split, predictions, volumes)
    artifacts.save_metrics(folder or artifacts_dir(profile) / name, results)
    return results


def saved_scores(name, model, slices, split, profile):
    """The scores saved beside the profile's model ``name`` (``metrics.json``); scored and saved first if none are,
    or if a classifier's were saved before its threshold was chosen on the training patients (no "train" scores)."""
    folder = artifacts_dir(profile)
    saved = artifacts.read_metrics(folder / name)
    stale = RECIPES[name].target == "label" and artifacts.trained_threshold(folder) is None
    if saved is None or stale:
        saved = score_and_save(name, model, slices, split, profile)
    return saved


def training_minutes(history):
    """A training history's minutes (NaN where its seconds were not recorded)."""
    return history["seconds"].sum() / 60 if "seconds" in history else np.nan


RUN_COLUMNS = ("model", "profile", "seed", "split seed")  # what names one classifier's run in a table of them


def write_classifier_rows(path, model, results, minutes, profile):
    """Write a classifier's scores (``score_splits``: a row per split) with its training ``minutes`` into the CSV
    ``path`` as the rows of its run (``RUN_COLUMNS``: ``model``, its artifact folder's name, and the ``profile``'s
    name, seed and split seed), replacing that run's earlier rows only; returns the table."""
    run = dict(zip(RUN_COLUMNS, (model, profile.name, profile.seed, profile.patient_seed)))
    scores = pd.DataFrame(results).T.rename_axis("split").reset_index().assign(**{"training minutes": minutes})
    rows = scores.assign(**run)[[*run, *scores]]
    path = Path(path)
    earlier = pd.read_csv(path) if path.exists() else rows.iloc[:0]
    missing = [column for column in RUN_COLUMNS if column not in earlier]
    if missing:
        raise ValueError(f"{path} is not a table of classifiers' runs: it has no column {', '.join(missing)} (a table "
                         "written before version 0.2.20 names no run). Choose another --out.")
    same_run = (earlier[list(RUN_COLUMNS)] == pd.Series(run)).all(axis=1)
    table = pd.concat([earlier[~same_run], rows], ignore_index=True)
    table.to_csv(path, index=False)
    return table


def results_table(results):
    """``score_splits``'s results as one table: a column per split (classifier) or a row block per split."""
    if all(np.isscalar(v) for v in next(iter(results.values())).values()):
        return pd.DataFrame(results)
    return pd.concat({part: pd.DataFrame(scores) for part, scores in results.items()})


PER_VOLUME = "_volume"  # added to a model's folder name when trained with intensities per patient volume


def per_volume_name(name):
    """The artifact folder's name of model ``name`` trained on intensities prepared per patient volume."""
    return name + PER_VOLUME


def folder_name(name, volumes=None):
    """The artifact folder's name of model ``name``: ``per_volume_name(name)`` when trained with ``volumes``."""
    return name if volumes is None else per_volume_name(name)


def train_and_score(name, slices, split, profile, volumes=None):
    """Train (or load) model ``name`` in the profile's artifacts folder (with ``volumes``, on intensities prepared
    per patient volume, as ``per_volume_name(name)``), score it (``score_splits``) and save the scores beside it;
    returns the model, its history, whether it was trained now, and the scores."""
    folder = artifacts_dir(profile) / folder_name(name, volumes)
    model, history, trained = train_model(name, slices, split, profile, folder, volumes=volumes)
    return model, history, trained, score_and_save(name, model, slices, split, profile, volumes=volumes, folder=folder)


def main(argv=None):
    """Command line: train (or load) a model in the active profile (with --per-volume, on intensities prepared per
    patient volume), score it on val and test (a classifier on train too), save metrics.json (with --out, a
    classifier's scores also into a table)."""
    from .config import get_profile
    from .data import find_data_dir
    from .splits import course_data
    from .volumes import STATS, volume_table

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("model", choices=sorted(RECIPES))
    parser.add_argument("--per-volume", action="store_true",
                        help=f"intensities prepared per patient volume (chapter 8's first step) instead of divided by "
                             f"255; the model is saved as <model>{PER_VOLUME}")
    parser.add_argument("--out", type=Path, help="a classifier's scores also into this CSV, a row per split (replacing "
                                                 "the earlier rows of the same model, profile, seed and split seed)")
    args = parser.parse_args(argv)
    name, profile = args.model, get_profile()
    if args.out and RECIPES[name].target != "label":
        parser.error(f"--out writes a classifier's scores; {name} is a segmenter (its scores are in metrics.json).")
    if args.out and (args.out.is_dir() or not args.out.parent.is_dir()):
        parser.error(f"--out {args.out}: expected a CSV file in an existing folder.")
    reproducible(profile.seed)
    slices, split = course_data(profile, find_data_dir(), progress=True)
    volumes = volume_table(slices)[STATS] if args.per_volume else None
    model_name = folder_name(name, volumes)
    _, history, trained, results = train_and_score(name, slices, split, profile, volumes)
    minutes = training_minutes(history)
    took = f" ({duration(60 * minutes)} of training)" if np.isfinite(minutes) else ""
    print(f"{model_name}: {'trained' if trained else 'loaded'}, {len(history)} epochs{took}, profile {profile.name}")
    print(results_table(results).round(3).to_string())
    if args.out:
        write_classifier_rows(args.out, model_name, results, minutes, profile)
        print(f"Wrote {model_name}'s rows to {args.out}.")


if __name__ == "__main__":
    main()
