"""Beyond the study (chapter 8): chapter 3's UNet with one ingredient added at a time, each step scored per
patient on the validation and test patients, as predicted and post-processed; the post-processing is
chosen on validation.

    python -m lgg_utils.recipe [--out FILE] [--steps STEP ...]   # trains (or loads) every step, or those named
    python -m lgg_utils.recipe [--out FILE] --seeds SEED ...      # the study recipe with more seeds, same split
    python -m lgg_utils.recipe [--out FILE] --thresholds [--seeds SEED ...]   # those seeds at each mask threshold

The laptop profile's table ships with the package (``LAPTOP_RESULTS``), so every build of the book can show
it; it was written by ``LGG_PROFILE=laptop python -m lgg_utils.recipe --out lgg_utils/results/laptop_recipe.csv``,
with every step then in ``STEPS`` (the first five) trained and scored on one machine with the same code.
``LAPTOP_EARLIER`` is an earlier run of the same steps, seed and split on another machine, before the ensemble:
the two show how much one run varies. ``LAPTOP_SEEDS``, written by ``--seeds 1 2 --out
lgg_utils/results/laptop_seeds.csv`` on the machine of ``LAPTOP_RESULTS``, holds the study recipe trained with
three seeds on its split, and their mean (``SEED_MEAN``); ``LAPTOP_THRESHOLDS``, written by ``--thresholds --seeds
1 2 --out lgg_utils/results/laptop_thresholds.csv``, holds the same runs (trained again with the same code on
another day: the same scores at 0.5, patient for patient) scored at each mask threshold of ``THRESHOLDS``.
``LAPTOP_LATER`` is ``LAPTOP_RESULTS`` with the steps trained later, one run each on other days: ``--steps
"+ rotation and scaling" --out lgg_utils/results/laptop_later.csv`` on a copy of ``LAPTOP_RESULTS``, then
``--steps "+ sampling by tumour area" "+ neighbouring slices"`` with the same ``--out``, on the first's output.
Steps that join the ensemble's members on validation change it, and a run that names steps
predicts those alone, so the ensemble is left out (``merged``). ``LAPTOP_LATER``'s ensemble rows come from one run
of every step (``python -m lgg_utils.recipe``) on another day, in which each step repeated its rows there patient
for patient; their training minutes are its members' there, summed (that day's machine was slower).
The table keeps each row's per-patient Dice, so a step added to it later (``--steps``) is compared with the
study recipe patient by patient without the study recipe's model. With every step scored, the ensemble of the
steps chosen on validation (``ENSEMBLE``) is scored too and its members saved beside the models
(``ENSEMBLE_FILE``), where the evaluation command finds them.
``LAPTOP_CLASSIFIERS`` holds chapter 2's classifier and the same classifier on intensities per volume (the
chapter's last section), written by ``python -m lgg_utils.training classifier [--per-volume] --out
lgg_utils/results/laptop_classifiers.csv``, each run with the profile's seed (42) and again with
``LGG_SEED=1 LGG_SPLIT_SEED=42`` (the same split), on one machine.
"""
import argparse
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from . import losses, scoring, training
from .augmentation import augment, augment_rotated, flip
from .config import artifacts_dir
from .pipeline import load_arrays, tumour_area_weights
from .plotting import FLAIR
from .splits import split_rows
from .volumes import STATS, volume_table

LAPTOP_RESULTS = Path(__file__).parent / "results" / "laptop_recipe.csv"
LAPTOP_EARLIER = Path(__file__).parent / "results" / "laptop_recipe_earlier.csv"
LAPTOP_SEEDS = Path(__file__).parent / "results" / "laptop_seeds.csv"
LAPTOP_THRESHOLDS = Path(__file__).parent / "results" / "laptop_thresholds.csv"
LAPTOP_LATER = Path(__file__).parent / "results" / "laptop_later.csv"
LAPTOP_CLASSIFIERS = Path(__file__).parent / "results" / "laptop_classifiers.csv"  # chapter 2's and per volume
BACKGROUND = 0.05  # FLAIR (divided by 255) at or below this is outside the brain, for the intensity figure


@dataclass(frozen=True)
class Step:
    """One step of the recipe: chapter 3's UNet trained with some ingredients changed."""

    folder: str | None  # its artifact beside chapter 3's (None: chapter 3's UNet itself)
    per_volume: bool = False  # intensities prepared per patient volume
    augmentation: Callable = augment  # training augmentation (``pipeline.make_dataset``)
    loss: Callable = losses.bce  # training loss (chapter 3's: BCE)
    crop: bool = False  # slices cut to their volume's square around the brain (needs ``per_volume``)
    sampling: Callable | None = None  # training slices drawn by these weights (``training.train_model``; None: by share)
    neighbours: bool = False  # each slice with its neighbours' sequences as channels (``pipeline.with_neighbours``)

    def __post_init__(self):
        if self.crop and not self.per_volume:
            raise ValueError("Step(crop=True) needs per_volume=True: the square around the brain is kept with the "
                             "volume's intensity statistics.")

    @property
    def model_folder(self):
        """The folder its model is saved in, under the profile's artifacts (chapter 3's UNet: ``unet``)."""
        return self.folder or "unet"

    @property
    def recipe(self):
        """Chapter 3's UNet's training recipe with this step's loss."""
        return dataclasses.replace(training.RECIPES["unet"], loss=self.loss)

    def preparation(self, volumes):
        """What this step's model takes from a ``volume_table`` made with ``crop``: all of it, its intensity
        statistics only, or nothing (divided by 255)."""
        return (volumes if self.crop else volumes[STATS]) if self.per_volume else None


STEPS = {"study recipe": Step(None),
         "+ intensities per volume": Step("unet_volume", per_volume=True),
         "+ flip augmentation only": Step("unet_volume_flips", per_volume=True, augmentation=flip),
         "+ Dice loss": Step("unet_volume_dice", per_volume=True, loss=losses.dice_loss),
         "+ pooled Dice loss": Step("unet_volume_pooled_dice", per_volume=True, loss=losses.pooled_dice_loss),
         "+ rotation and scaling": Step("unet_rotate_scale", augmentation=augment_rotated),
         "+ sampling by tumour area": Step("unet_area_sampling", sampling=tumour_area_weights),
         "+ neighbouring slices": Step("unet_neighbours", neighbours=True)}
ENSEMBLE = "mean of the steps"  # the mean probability of the study recipe and the steps at least as good on validation
SEED_MEAN = "mean of the seeds"  # the mean probability of the study recipe trained with several seeds (``score_seeds``)
ENSEMBLE_FILE = "ensemble.json"  # its members' model folders, beside them (``save_ensemble``)
POST = {"as predicted": (False, False), "largest component": (False, True),  # name -> (flip, largest component)
        "flip + largest component": (True, True)}
THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)  # mask thresholds compared by ``score_thresholds`` (0.5: every other table's)


def steps_table():
    """The steps for the reader: each one's artifact folder, intensities, crop, input slices, training
    augmentation, sampling and loss."""
    def short(function):
        return f"{function.__module__.split('.')[-1]}.{function.__name__}"

    return pd.DataFrame({name: {"artifact folder": step.model_folder + ("" if step.folder else " (chapter 3's)"),
                                "intensities": "per patient volume" if step.per_volume else "divided by 255",
                                "cropped to the brain": step.crop,
                                "input": "with its neighbours" if step.neighbours else "the slice alone",
                                "augmentation": short(step.augmentation),
                                "sampling": short(step.sampling) if step.sampling else
                                f"{step.recipe.tumour_share:.0%} from tumour slices",
                                "loss": short(step.loss)}
                         for name, step in STEPS.items()}).T.rename_axis("step")


def brain_intensities(slices, volumes, size, patients):
    """Each of ``patients``' FLAIR intensities inside the brain (brighter than ``BACKGROUND``), divided by 255 and
    prepared per volume: two dicts patient -> values, for ``plotting.intensity_curves``."""
    before, after = {}, {}
    for patient in patients:
        rows = slices[slices.patient == patient]
        scaled, _ = load_arrays(rows, size)
        prepared, _ = load_arrays(rows, size, volumes=volumes[STATS])
        brain = scaled[..., FLAIR] > BACKGROUND
        before[patient], after[patient] = scaled[..., FLAIR][brain], prepared[..., FLAIR][brain]
    return before, after


def train_steps(slices, split, profile, volumes, names=None):
    """Each step's (or the ``names``d steps') trained UNet and history: the study recipe's is chapter 3's UNet,
    the others are saved beside it in their ``Step.folder`` (the evaluation command scores them too).
    ``volumes``: a ``volume_table`` made with ``crop``."""
    steps = {}
    for name, step in STEPS.items():
        if names is None or name in names:
            folder = step.folder and artifacts_dir(profile) / step.folder
            model, history, _ = training.train_model("unet", slices, split, profile, folder=folder, recipe=step.recipe,
                                                     volumes=step.preparation(volumes), augmentation=step.augmentation,
                                                     sampling=step.sampling, neighbours=step.neighbours)
            steps[name] = model, history
    return steps


def held_out(slices, split):
    """The validation and the test patients' rows of a slice table, by split: what every table here scores."""
    return {part: split_rows(slices, split, part) for part in ("val", "test")}


def largest_per_patient(rows, probabilities):
    """``scoring.largest_component`` of each patient's volume (its rows of the slice table, in slice order)."""
    kept = np.empty_like(probabilities)
    for index in rows.groupby("patient", sort=False).indices.values():
        kept[index] = scoring.largest_component(probabilities[index])
    return kept


def summary(patients, scores):
    """Per-patient 3-D Dice (mean and 95% bootstrap interval), tumour-slice Dice, slice errors, and the accuracy
    of the segmenter as a detector (a slice with any predicted pixel says "tumour")."""
    low, high = scoring.bootstrap_ci(patients.dice)
    errors = scoring.slice_errors(scores)
    return {"patient dice": patients.dice.mean(), "ci low": low, "ci high": high,
            "tumour-slice dice": scores.dice[scores.tumour].mean(), **errors,
            "detection accuracy": 1 - sum(errors.values()) / len(scores)}


def paired_gain(dice, baseline):
    """The mean per-patient gain of ``dice`` over ``baseline`` (two Series indexed by patient, the same
    patients) and its 95% bootstrap interval: the fair comparison of two models scored on the same patients."""
    if set(dice.index) != set(baseline.index):
        raise ValueError(f"A paired gain needs the same patients: {len(dice)} scored against a baseline of "
                         f"{len(baseline)} ({len(set(dice.index) & set(baseline.index))} shared). Was the earlier table "
                         "written on another split or data folder? Score the study recipe again with the step.")
    gain = dice - baseline.reindex(dice.index)
    low, high = scoring.bootstrap_ci(gain)
    return {"gain": gain.mean(), "gain low": low, "gain high": high}


def stored_dice(table, step, post, part):
    """The per-patient Dice a table (``score_steps``, e.g. read back from its CSV) recorded for one step,
    post-processing and split, as a Series by patient; None where it has none."""
    rows = table[(table.step == step) & (table["post-processing"] == post) & (table.split == part)]
    text = rows["patient dices"].dropna() if "patient dices" in rows else ()
    return pd.Series(json.loads(text.iloc[0]), dtype=float) if len(text) else None


def top_patient_gain(table, step, part="val"):
    """Whether ``step``'s mean gain over the study recipe on ``part`` rests on one patient: the patient it gains
    most on, both Dice there, and its mean gain on the others (each with the post-processing chosen for ``step``
    on validation, from the per-patient Dice ``table`` stores)."""
    first, post = next(iter(STEPS)), chosen(table, "val").loc[step, "post-processing"]
    study, dice = (stored_dice(table, name, post, part) for name in (first, step))
    gains = dice - study
    top = gains.idxmax()
    return pd.Series({"patient": top, "study recipe": study[top], "step": dice[top], "others": gains.drop(top).mean()})


def score_steps(steps, slices, split, volumes, earlier=None):
    """A row per step, post-processing and split (val, test): ``summary``, each patient's Dice (as JSON), the
    paired gain over the study recipe (the first of ``STEPS``) with the same post-processing (``paired_gain``;
    where it is not among ``steps``, over its per-patient Dice stored in an ``earlier`` table, else not
    recorded), training minutes, and whether the post-processing is the step's choice (the best validation
    patient Dice). Each split is predicted once per flip setting; the post-processings share those predictions.
    With every step of ``STEPS`` and a step besides the study recipe among ``ensemble_members``, also the rows of
    ``ENSEMBLE``: their mean probability, post-processed and chosen like a step's, its members in ``members``, its
    training minutes theirs summed. ``volumes``: a ``volume_table`` made with ``crop``."""
    parts = held_out(slices, split)
    first = next(iter(STEPS))
    predicted, minutes, scored = scored_runs(steps, parts, lambda step: STEPS[step].preparation(volumes))
    if first in steps:
        baseline = patient_dice(scored[first])
    else:
        baseline = {} if earlier is None else {(post, part): stored_dice(earlier, first, post, part)
                                               for post in POST for part in parts}
    rows = [row for step in steps for row in step_rows(step, scored[step], minutes[step], baseline)]
    members = ensemble_members(with_choice(pd.DataFrame(rows))) if set(steps) == set(STEPS) else []
    if len(members) > 1:
        rows += mean_rows(ENSEMBLE, members, predicted, parts, minutes, baseline)
    return with_choice(pd.DataFrame(rows))


def mean_predictions(members, predicted):
    """The ``predictions`` of the mean probability of ``members`` (keys of ``predicted``, each a model's)."""
    return {key: (truth, mean_probability([predicted[m][key][1] for m in members]))
            for key, (truth, _) in predicted[members[0]].items()}


def mean_rows(name, members, predicted, parts, minutes, baseline):
    """``step_rows`` named ``name`` of the mean probability of ``members`` (keys of ``predicted``, each a model's
    ``predictions``), with the members in ``members`` and their training ``minutes`` summed."""
    return [{**row, "members": json.dumps(members)} for row in step_rows(
        name, post_processed_scores(mean_predictions(members, predicted), parts), sum(minutes[m] for m in members),
        baseline)]


def scored_runs(runs, parts, preparation):
    """Each run's (name -> (model, history)) ``predictions`` of ``parts``, with the volumes ``preparation(name)``
    gives, its training minutes and its ``post_processed_scores``: three dicts by run."""
    predicted = {run: predictions(model, parts, preparation(run)) for run, (model, _) in runs.items()}
    minutes = {run: training.training_minutes(history) for run, (_, history) in runs.items()}
    return predicted, minutes, {run: post_processed_scores(predicted[run], parts) for run in runs}


def patient_dice(scored):
    """One model's per-patient Dice by (post-processing, split), from its ``post_processed_scores``."""
    return {key: scoring.patient_scores(scores).dice for key, scores in scored.items()}


def seed_profile(profile, seed):
    """``profile`` with another training ``seed`` and the same patient split (its artifacts in a folder of its own);
    ``profile`` itself for its own seed (so its saved models are reused, not retrained)."""
    return profile if seed == profile.seed else dataclasses.replace(profile, seed=seed, split_seed=profile.patient_seed)


def train_seeds(slices, split, profile, seeds):
    """Chapter 3's UNet (the study recipe) trained (or loaded) with each of ``seeds`` on ``profile``'s split, in
    ``seed_profile``'s artifacts: a dict 'study recipe, seed <n>' -> (model, history)."""
    runs = {}
    for seed in seeds:
        training.reproducible(seed)
        model, history, _ = training.train_model("unet", slices, split, seed_profile(profile, seed))
        runs[f"study recipe, seed {seed}"] = model, history
    return runs


def score_seeds(runs, slices, split):
    """``score_steps`` for one step trained with several seeds (``train_seeds``): a row per seed, post-processing
    and split, the gains over the first seed, and the rows of the seeds' mean probability (``SEED_MEAN``)."""
    parts = held_out(slices, split)
    predicted, minutes, scored = scored_runs(runs, parts, lambda run: None)  # the study recipe: divided by 255
    baseline = patient_dice(scored[next(iter(runs))])
    rows = [row for run in runs for row in step_rows(run, scored[run], minutes[run], baseline)]
    return with_choice(pd.DataFrame(rows + mean_rows(SEED_MEAN, list(runs), predicted, parts, minutes, baseline)))


def score_thresholds(runs, slices, split):
    """``score_seeds``' runs (and, with several, their mean), each post-processing with masks cut at each of
    ``THRESHOLDS``: a row per run, post-processing, threshold and split, the gain over the same run and
    post-processing cut at ``metrics.THRESHOLD`` as every other table is; ``chosen``: each run's best
    (post-processing, threshold) on the validation patients, a tie going to the threshold nearest 0.5."""
    parts = held_out(slices, split)
    predicted, minutes, scored = scored_runs(runs, parts, lambda run: None)  # the study recipe: divided by 255
    if len(runs) > 1:
        predicted[SEED_MEAN], minutes[SEED_MEAN] = mean_predictions(list(runs), predicted), sum(minutes.values())
        scored[SEED_MEAN] = post_processed_scores(predicted[SEED_MEAN], parts)
    rows = []
    for run, predictions_of_run in predicted.items():
        baseline = patient_dice(scored[run])
        for threshold in sorted(THRESHOLDS, key=lambda t: abs(t - 0.5)):  # with_choice keeps the first of a tie
            rows += [{**row, "threshold": threshold} for row in step_rows(
                run, post_processed_scores(thresholded(predictions_of_run, threshold), parts), minutes[run], baseline)]
    return with_choice(pd.DataFrame(rows), options=("post-processing", "threshold"))


def thresholded(predicted, threshold):
    """One model's ``predictions`` as 0/1 masks: 1 where the probability (compared in float32, where 0.3 is
    nearer 0.3 than in float16) is above ``threshold``."""
    return {key: (truth, (probabilities.astype(np.float32) > threshold).astype(np.float16))
            for key, (truth, probabilities) in predicted.items()}


def mean_probability(probabilities):
    """The ensemble's prediction: the mean of its members' probabilities (not of their masks or scores)."""
    return np.mean(probabilities, axis=0, dtype=np.float32)


def predictions(model, parts, volumes):
    """``scoring.predict`` of each split in ``parts`` with and without test-time flips, by (split, flip); the
    probabilities kept in float16 (an ensemble holds every step's at once)."""
    predicted = {}
    for part, rows in parts.items():
        for mirror in {mirror for mirror, _ in POST.values()}:
            truth, probabilities = scoring.predict(model, rows, volumes=volumes, flip=mirror)
            predicted[part, mirror] = truth.astype(bool), probabilities.astype(np.float16)
    return predicted


def post_processed_scores(predicted, parts):
    """Each (post-processing, split)'s slice scores from one model's ``predictions``."""
    scored = {}
    for post, (mirror, largest) in POST.items():
        for part, part_rows in parts.items():
            truth, probabilities = predicted[part, mirror]
            if largest:
                probabilities = largest_per_patient(part_rows, probabilities)
            scored[post, part] = scoring.slice_scores(part_rows, truth, probabilities)
    return scored


def step_rows(step, scored, minutes, baseline):
    """``score_steps``' rows of one step from its ``post_processed_scores``: gains over ``baseline``
    (per-patient Dice by (post-processing, split); not recorded where it has none)."""
    rows = []
    for (post, part), scores in scored.items():
        patients = scoring.patient_scores(scores)
        base = baseline.get((post, part))
        gain = dict.fromkeys(["gain", "gain low", "gain high"], np.nan) if base is None else \
            paired_gain(patients.dice, base)
        rows.append({"step": step, "post-processing": post, "split": part, **summary(patients, scores), **gain,
                     "training minutes": minutes, "patient dices": patients.dice.to_json()})
    return rows


def with_choice(table, options=("post-processing",)):
    """``table`` with ``chosen``: whether a row's ``options`` (its post-processing) are its step's best on the
    validation patients."""
    keys, val = ["step", *options], table[table.split == "val"]
    best = val.loc[val.groupby("step", sort=False)["patient dice"].idxmax(), keys]
    return table.assign(chosen=table.set_index(keys).index.isin(best.set_index(keys).index))


def ensemble_members(table):
    """The members of ``ENSEMBLE``, chosen on validation: the study recipe and every step whose validation
    patient Dice (each with its chosen post-processing) is at least the study recipe's."""
    val = chosen(table[table.step.isin(STEPS)], "val")["patient dice"]
    return list(val.index[val >= val[next(iter(STEPS))]])


def save_ensemble(folder, table):
    """Write ``ENSEMBLE_FILE`` in an artifacts ``folder``: the model folders of the members of ``table``'s
    ensemble, for the evaluation command; remove an older one where ``table`` has no ensemble."""
    path = Path(folder) / ENSEMBLE_FILE
    members = table.loc[table.step == ENSEMBLE, "members"] if "members" in table else ()
    if len(members):
        path.write_text(json.dumps({"members": [STEPS[step].model_folder for step in json.loads(members.iloc[0])]}))
    else:
        path.unlink(missing_ok=True)


def saved_ensemble(folder):
    """The model folders of the ensemble's members saved in an artifacts ``folder`` (``save_ensemble``); [] if none."""
    path = Path(folder) / ENSEMBLE_FILE
    return json.loads(path.read_text())["members"] if path.exists() else []


def chosen(table, part):
    """Each step's row on split ``part`` with the post-processing chosen on validation, indexed by step."""
    return table[table.chosen & (table.split == part)].set_index("step")


def runs_compared(runs):
    """Each step's patient Dice on the validation and test patients (post-processing chosen on validation), a
    column per split under each run of ``runs`` (name: table), a row per step of ``STEPS`` that a run scored."""
    return pd.concat({name: pd.DataFrame({part: chosen(table, part)["patient dice"] for part in ("val", "test")})
                      for name, table in runs.items()}, axis=1).reindex(list(STEPS)).dropna(how="all")


def with_interval(values, low, high, sign=""):
    """Values with their intervals as text: '0.793 (0.688 to 0.875)'; None where a value was not recorded."""
    return [None if np.isnan(v) else f"{v:{sign}.3f} ({lo:{sign}.3f} to {hi:{sign}.3f})"
            for v, lo, hi in zip(values, low, high)]


def view(table, options=("post-processing",), versus=None):
    """The results for the reader: a row per step and post-processing (its ``options``), the validation and test
    patients' scores side by side (patient Dice and the paired gain over what ``versus`` names, default the first
    step, each with its 95% interval), the chosen post-processing marked."""
    gain = f"gain over {versus or 'the ' + table.step.iloc[0]} (95% CI)"
    table = table.assign(**{"patient dice (95% CI)": with_interval(table["patient dice"], table["ci low"], table["ci high"]),
                            gain: with_interval(table["gain"], table["gain low"], table["gain high"], sign="+"),
                            "training minutes": table["training minutes"].astype(object).where(  # a NaN index drops rows
                                table["training minutes"].notna(), "not recorded")})
    wide = table.pivot_table(index=["step", *options, "chosen", "training minutes"], columns="split",
                             values=["patient dice (95% CI)", gain, "tumour-slice dice", "missed tumour slices",
                                     "false-positive slices", "detection accuracy"], aggfunc="first", sort=False)
    return wide.swaplevel(axis=1).reindex(columns=["val", "test"], level=0).reset_index(["chosen", "training minutes"])


def merged(table, earlier):
    """``table``'s rows in place of the same steps' rows of an ``earlier`` table (where there is one), in ``STEPS``
    order, ``ENSEMBLE`` last. ``table``'s own ``ENSEMBLE`` rows (every step scored) replace the earlier ones; else
    the earlier ones are kept only while they still hold: their members recorded, none of them scored again, and
    still those validation chooses (``ensemble_members``)."""
    if earlier is not None:
        scored_now = set(table.step)
        table = pd.concat([earlier.query("step not in @scored_now"), table], ignore_index=True)
        if ENSEMBLE in set(table.step) - scored_now:
            members = table.loc[table.step == ENSEMBLE].get("members", pd.Series(dtype=object)).dropna()
            members = set(json.loads(members.iloc[0])) if len(members) else None  # None: not recorded, cannot hold
            if members is None or scored_now & members or members != set(ensemble_members(table)):
                table = table[table.step != ENSEMBLE]
    order = {name: k for k, name in enumerate([*STEPS, ENSEMBLE])}
    return table.sort_values("step", key=lambda steps: steps.map(order), kind="stable", ignore_index=True)


def main(argv=None):
    """Train (or load) every step (or those named) in the active profile, score them, print the table and save
    it as CSV (with named steps: in place of their rows of an existing one, their gain over its study recipe's
    stored per-patient Dice), and the ensemble's members for the evaluation command (``save_ensemble``). With
    seeds instead: the study recipe trained with the profile's seed and those, on its split (``score_seeds``); with
    thresholds, the same runs scored at each mask threshold (``score_thresholds``)."""
    from .config import get_profile
    from .data import find_data_dir
    from .splits import course_data

    parser = argparse.ArgumentParser(prog="python -m lgg_utils.recipe", description=main.__doc__)
    parser.add_argument("--out", type=Path, help="CSV file (default: <artifacts>/recipe.csv, with --seeds "
                                                 "<artifacts>/recipe_seeds.csv, with --thresholds "
                                                 "<artifacts>/recipe_thresholds.csv)")
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--steps", nargs="+", choices=list(STEPS), metavar="STEP",
                        help=f"only these steps (default: all): {', '.join(map(repr, STEPS))}")
    choice.add_argument("--seeds", nargs="+", type=int, metavar="SEED",
                        help="the study recipe with the profile's seed and these seeds, each scored, and their mean")
    parser.add_argument("--thresholds", action="store_true",
                        help=f"the study recipe (with --seeds: those runs and their mean) at each mask threshold of "
                             f"{', '.join(map(str, THRESHOLDS))}")
    args = parser.parse_args(argv)
    if args.thresholds and args.steps:
        parser.error("--thresholds scores the study recipe (and --seeds), not --steps: give one or the other.")
    profile = get_profile()
    training.reproducible(profile.seed)
    slices, split = course_data(profile, find_data_dir(), progress=True)
    if args.seeds or args.thresholds:
        runs = train_seeds(slices, split, profile, [profile.seed, *(args.seeds or ())])
        score, name = (score_thresholds, "recipe_thresholds.csv") if args.thresholds else (score_seeds, "recipe_seeds.csv")
        write(score(runs, slices, split), args.out or artifacts_dir(profile) / name)
        return
    volumes = volume_table(slices, crop=True)
    out = args.out or artifacts_dir(profile) / "recipe.csv"
    earlier = pd.read_csv(out) if args.steps and out.exists() else None
    table = merged(score_steps(train_steps(slices, split, profile, volumes, args.steps), slices, split, volumes, earlier),
                   earlier)
    write(table, out)
    save_ensemble(artifacts_dir(profile), table)


def write(table, out):
    """Save a results ``table`` as CSV at ``out`` and print it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    print(table.drop(columns="patient dices").round(3).to_string())
    print(f"Wrote {out}.")


if __name__ == "__main__":
    main()
