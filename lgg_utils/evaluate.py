"""Evaluate saved models on every patient of a Kaggle-layout folder, and the functions behind it that the
evaluation chapter uses.

    python -m lgg_utils.evaluate --data DIR --artifacts DIR [--out DIR] [--force] [--flip] [--largest-component]
        [--native]

Patient by patient, the slices are loaded once and every saved model predicts them: each segmenter alone
and in the cascade (the classifier gates it, ``scoring.gate``). A model trained on intensities prepared per
volume (chapter 8's UNets, ``recipe.STEPS``, and a model of the training command's ``--per-volume``,
``<model>_volume``, a classifier too) gets the patient's intensities prepared so (a step made with ``crop``, its
slices cropped and its masks put back in place), the one trained on neighbouring slices each slice with its
neighbours; the ensemble of chapter 8's steps (``recipe.ENSEMBLE``, where the recipe command saved its members) is
scored as one more segmenter. Model time is measured on images
already in memory, so it compares the models, not the disk.
"""
import argparse
import json
import time
from collections import Counter
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from . import artifacts, scoring
from .data import DataError, slice_table
from .pipeline import SEQUENCES, box_rows, for_channels, load_arrays, uncrop
from .recipe import ENSEMBLE, STEPS, mean_probability, saved_ensemble
from .training import RECIPES, SEGMENTERS, per_volume_name
from .volumes import STATS, volume_table

RECIPE_UNETS = {step.folder: step for step in STEPS.values() if step.folder}  # chapter 8's UNets, by their folders
PER_VOLUME_MODELS = {per_volume_name(name): recipe for name, recipe in RECIPES.items()}  # the training command's --per-volume
SAVED = {**RECIPES, **PER_VOLUME_MODELS, **{folder: step.recipe for folder, step in RECIPE_UNETS.items()}}  # every model a folder may hold
GATE = "classifier"  # chapter 2's classifier gates the cascade
OTHER_CLASSIFIERS = tuple(name for name, recipe in SAVED.items() if recipe.target == "label" and name != GATE)
CLASSIFIERS = (GATE, *OTHER_CLASSIFIERS)
RETRAIN = {**{per_volume_name(name): f"python -m lgg_utils.training {name} --per-volume" for name in RECIPES},
           **{step.folder: f"python -m lgg_utils.recipe --steps '{name}'"  # a step alone
              for name, step in STEPS.items() if step.folder}}  # the command that retrains a stale model

FILES = ("slices.csv", "patients.csv", "summary.json")


def load_current_models(folder):
    """The models of an artifacts folder whose fingerprint matches the current code (``artifacts.load_models``),
    chapter 8's UNets and the training command's ``<model>_volume`` included; says which were left out as stale, and
    refuses a folder without a current segmenter."""
    models, stale = artifacts.load_models(folder, SAVED, RETRAIN)
    for reason in stale.values():
        print(f"Left out: {reason}")
    if set(models) <= set(CLASSIFIERS):
        raise FileNotFoundError(
            f"No current trained segmenter in {folder}: expected <model>/model.keras for one of "
            f"{', '.join(SEGMENTERS)}. Train them with `make book` (fast profile) or `python -m lgg_utils.training unet` (LGG_PROFILE "
            "chooses the profile).")
    return models


def _predict(model, images, batch_size=32, flip=False):
    """``model``'s outputs for in-memory images, in batches (called directly: no retracing per shape); with
    ``flip``, the mean of its outputs for the images and for their mirror images (left-right, masks mirrored
    back): test-time augmentation."""
    output = np.concatenate([keras.ops.convert_to_numpy(model(images[i:i + batch_size], training=False))
                             for i in range(0, len(images), batch_size)])
    if not flip:
        return output
    mirrored = _predict(model, images[:, :, ::-1], batch_size)
    return (output + (mirrored[:, :, ::-1] if mirrored.ndim == 4 else mirrored)) / 2


def _timed(model, images, seconds, name, flip=False):
    """``model``'s outputs for ``images`` (``_predict``), adding the time they took to ``seconds[name]``."""
    start = time.perf_counter()
    output = _predict(model, images, flip=flip)
    seconds[name] += time.perf_counter() - start
    return output


def model_inputs(part, size, models, images, table=None, per_volume=(), cropped=()):
    """Each model's input images for one patient's slices (``part``; ``images``: loaded as they are), each
    preparation loaded once: intensities per volume (``table``) for the models in ``per_volume``, cropped for those in
    ``cropped``, each slice with its neighbours for a model that takes them (``pipeline.for_channels``)."""
    loaded, inputs = {(SEQUENCES, None): images}, {}
    for name, model in models.items():
        prepared = "cropped" if name in cropped else "per volume" if name in per_volume else None
        key = model.input_shape[-1], prepared
        if key not in loaded:
            volumes = table if prepared == "cropped" else table[STATS] if prepared else None
            loaded[key] = load_arrays(for_channels(part, key[0]), size, volumes)[0]
        inputs[name] = loaded[key]
    return inputs


def run(slices, models, progress=True, flip=False, largest_component=False, per_volume=(), cropped=(), ensemble=(),
        native=False):
    """Scores of every slice for every segmenter, alone and in the cascade (when there is a classifier),
    with the classifier's tumour probability (``p_tumour``; another classifier's in ``p_<its name>``); and each
    model's seconds per slice. ``flip`` averages every
    model over each slice and its mirror image; ``largest_component`` keeps each patient's largest 3-D
    connected component of each segmenter's masks (``scoring.largest_component``); the models named in
    ``per_volume`` take intensities prepared per patient volume (``volumes``), those in ``cropped`` also the
    slices cropped to the brain (their masks put back in place, ``pipeline.uncrop``), those taking neighbouring
    slices their neighbours too (``model_inputs``); with ``ensemble`` (model
    names), their mean probability is scored as ``recipe.ENSEMBLE``, timed as the sum of its members' times;
    ``native`` scores every mask at the slices' stored resolution (``scoring.upsampled``, before any largest
    component), as the published per-patient Dice is, instead of at the models' size."""
    size = next(iter(models.values())).input_shape[1]
    side = scoring.stored_size(slices) if native else None
    classifier = models.get(GATE)
    for model in models.values():  # warm up, so the first patient's time is not the set-up's
        _predict(model, np.zeros((1, *model.input_shape[1:]), "float32"))
    rows, seconds = [], Counter()
    for _, part in tqdm(slices.groupby("patient", sort=False), desc="Evaluating", unit="patient",
                        disable=not progress):
        images, truth = load_arrays(part, size)
        if native:
            truth = load_arrays(part, side)[1]
        table = volume_table(part, progress=False, crop=bool(cropped)) if per_volume else None
        inputs = model_inputs(part, size, models, images, table, per_volume, cropped)
        tumour_probability = _timed(classifier, images, seconds, GATE, flip)[:, 1] if classifier else None
        other_classifiers = {f"p_{name}": _timed(models[name], inputs[name], seconds, name, flip)[:, 1]
                             for name in OTHER_CLASSIFIERS if name in models}
        predicted = {}
        for name in (n for n in models if n not in CLASSIFIERS):
            predicted[name] = _timed(models[name], inputs[name], seconds, name, flip)
            if name in cropped:
                predicted[name] = uncrop(predicted[name], box_rows(part, table))
        if ensemble:
            predicted[ENSEMBLE] = mean_probability([predicted[name] for name in ensemble])
        for name, probabilities in predicted.items():
            if native:
                probabilities = scoring.upsampled(probabilities, side)
            if largest_component:  # after enlarging: a 0/1 mask enlarged would keep the coarse pixels' edges
                probabilities = scoring.largest_component(probabilities)
            scores = scoring.slice_scores(part, truth, probabilities).assign(model=name, p_tumour=tumour_probability,
                                                                             **other_classifiers)
            rows.append(scores.assign(mode="alone", segmented=True))
            if classifier:
                gated, keep = scoring.gate(probabilities, tumour_probability)
                rows.append(scoring.slice_scores(part, truth, gated).assign(
                    model=name, p_tumour=tumour_probability, **other_classifiers, mode="cascade", segmented=keep))
    if ensemble:
        seconds[ENSEMBLE] = sum(seconds[name] for name in ensemble)
    return pd.concat(rows, ignore_index=True), {name: s / len(slices) for name, s in seconds.items()}


def patient_scores_by_model(scores):
    """Per-patient 3-D scores (``scoring.patient_scores``) for each model and mode."""
    return pd.concat({key: scoring.patient_scores(part) for key, part in scores.groupby(["model", "mode"], sort=False)},
                     names=["model", "mode"]).reset_index()


def _segmenter_report(part, patients, seconds, classifier_seconds):
    """One segmenter in one mode: slice and patient means, the patient Dice interval, errors, model time."""
    means = scoring.slice_means(part)
    low, high = scoring.bootstrap_ci(patients.dice)
    return {"dice, all slices": means.dice["all slices"], "dice, tumour slices": means.dice["tumour slices"],
            "iou, tumour slices": means.iou["tumour slices"], "tversky, all slices": means.tversky["all slices"],
            "patient dice": patients.dice.mean(), "patient dice 95% CI": [low, high],
            **scoring.slice_errors(part), "segmented share": part.segmented.mean(),
            "ms per slice": 1000 * (seconds * part.segmented.mean() + classifier_seconds)}


def report(scores, seconds, threshold, others=None):
    """The JSON summary: counts, the classifier at ``threshold``, other classifiers at theirs (``others``: name ->
    threshold), every segmenter alone and in the cascade."""
    patients = patient_scores_by_model(scores)
    first = scores[(scores.model == scores.model.iloc[0]) & (scores["mode"] == "alone")]
    result = {"patients": int(first.patient.nunique()), "slices": len(first), "tumour slices": int(first.tumour.sum()),
              "cascade skips below": scoring.CASCADE_SKIP, "segmenters": {}}
    if first.p_tumour.notna().all():
        result[GATE] = scoring.classifier_scores(first.tumour.to_numpy(), first.p_tumour.to_numpy(float), threshold)
    for name, other in (others or {}).items():
        if f"p_{name}" in first:
            result[name] = scoring.classifier_scores(first.tumour.to_numpy(), first[f"p_{name}"].to_numpy(float), other)
    for (name, mode), part in scores.groupby(["model", "mode"], sort=False):
        rows = patients[(patients.model == name) & (patients["mode"] == mode)]
        cost = seconds.get(GATE, 0.0) if mode == "cascade" else 0.0
        result["segmenters"].setdefault(name, {})[mode] = _segmenter_report(part, rows, seconds[name], cost)
    return result


def report_table(result):
    """The segmenters' part of ``summary`` as a table: a row per model and mode."""
    table = pd.DataFrame({(name, mode): values for name, modes in result["segmenters"].items()
                          for mode, values in modes.items()}).T.infer_objects()
    interval = table.pop("patient dice 95% CI")
    table.insert(table.columns.get_loc("patient dice") + 1, "95% CI",
                 [f"{low:.3f}-{high:.3f}" for low, high in interval])
    return table.rename_axis(["model", "mode"])


def write(out, scores, result, force=False):
    """Write per-slice and per-patient CSVs and the JSON summary to ``out`` (an existing folder only with ``force``)."""
    out = Path(out)
    if out.exists() and not force:
        raise FileExistsError(f"{out} exists: pass --force to replace its {', '.join(FILES)}, or choose another --out.")
    out.mkdir(parents=True, exist_ok=True)
    scores.to_csv(out / "slices.csv", index=False)
    patient_scores_by_model(scores).to_csv(out / "patients.csv", index=False)
    (out / "summary.json").write_text(json.dumps(result, indent=2, default=float))


def main(argv=None):
    """Evaluate the saved models on every patient of a data folder; print a summary, write CSVs and JSON."""
    parser = argparse.ArgumentParser(prog="python -m lgg_utils.evaluate", description=main.__doc__)
    parser.add_argument("--data", type=Path, required=True, help="a folder in the Kaggle layout (one folder per patient)")
    parser.add_argument("--artifacts", type=Path, required=True, help="a profile's artifacts, e.g. artifacts/laptop/seed-42")
    parser.add_argument("--out", type=Path, help="output folder (default: <artifacts>/evaluation/<data folder name>)")
    parser.add_argument("--force", action="store_true", help="replace the files of an existing output folder")
    parser.add_argument("--flip", action="store_true", help="average each model over a slice and its mirror image")
    parser.add_argument("--largest-component", action="store_true",
                        help="keep each patient's largest 3-D connected component of a segmenter's masks")
    parser.add_argument("--native", action="store_true",
                        help="score the masks at the slices' stored resolution (256x256 here), as Buda et al. do, "
                             "each prediction upsampled; without it, at the models' size")
    args = parser.parse_args(argv)
    out = args.out or args.artifacts / "evaluation" / args.data.resolve().name
    if out.exists() and not args.force:
        parser.error(f"{out} exists: pass --force to replace its {', '.join(FILES)}, or choose another --out.")
    try:
        slices = slice_table(args.data)
        if args.native:
            scoring.stored_size(slices)  # one size for every slice, or a clear error before any model runs
        models = load_current_models(args.artifacts)
    except (DataError, FileNotFoundError) as err:
        parser.exit(1, f"error: {err}\n")
    threshold = artifacts.classifier_threshold(args.artifacts, GATE)
    others = {name: artifacts.classifier_threshold(args.artifacts, name) for name in OTHER_CLASSIFIERS}
    per_volume = [name for name in models if artifacts.per_volume(args.artifacts / name)]
    cropped = [name for name in per_volume if name in RECIPE_UNETS and RECIPE_UNETS[name].crop]
    ensemble = saved_ensemble(args.artifacts)
    if not set(ensemble) <= set(models):
        print(f"Left out: the {ENSEMBLE}: member(s) {', '.join(sorted(set(ensemble) - set(models)))} missing or stale "
              "(`python -m lgg_utils.recipe` trains them and chooses the members).")
        ensemble = []
    scores, seconds = run(slices, models, flip=args.flip, largest_component=args.largest_component, per_volume=per_volume,
                          cropped=cropped, ensemble=ensemble, native=args.native)
    result = {**report(scores, seconds, threshold, others), "flip": args.flip, "largest component": args.largest_component,
              "native": args.native}
    print(report_table(result).drop(columns=["segmented share"]).to_string(float_format="{:.3f}".format))
    for name in (n for n in CLASSIFIERS if n in result):
        print(f"{name} at threshold {result[name]['threshold']:.2f}: accuracy {result[name]['accuracy']:.3f}, "
              f"AUC {result[name]['auc']:.3f}.")
    write(out, scores, result, force=args.force)
    print(f"Wrote {', '.join(FILES)} to {out}.")


if __name__ == "__main__":
    main()
