"""Beyond the study (chapter 8): chapter 3's UNet with one ingredient added at a time, each step scored per
patient on the validation and test patients, as predicted and post-processed; the post-processing is
chosen on validation.

    python -m lgg_utils.recipe [--out FILE]   # trains (or loads) every step in the active profile

The laptop profile's table ships with the package (``LAPTOP_RESULTS``), so every build of the book can show
it; it was written by ``LGG_PROFILE=laptop python -m lgg_utils.recipe --out lgg_utils/results/laptop_recipe.csv``.
"""
import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from . import scoring, training
from .config import artifacts_dir
from .pipeline import load_arrays
from .plotting import FLAIR
from .splits import split_rows
from .volumes import volume_table

LAPTOP_RESULTS = Path(__file__).parent / "results" / "laptop_recipe.csv"
BACKGROUND = 0.05  # FLAIR (divided by 255) at or below this is outside the brain, for the intensity figure
VOLUME_UNET = "unet_volume"  # the artifact of the UNet trained on intensities per volume, beside chapter 3's
STEPS = {"study recipe": False, "+ intensities per volume": True}  # step -> intensities prepared per volume
POST = {"as predicted": (False, False), "largest component": (False, True),  # name -> (flip, largest component)
        "flip + largest component": (True, True)}


def brain_intensities(slices, volumes, size, patients):
    """Each of ``patients``' FLAIR intensities inside the brain (brighter than ``BACKGROUND``), divided by 255 and
    prepared per volume: two dicts patient -> values, for ``plotting.intensity_curves``."""
    before, after = {}, {}
    for patient in patients:
        rows = slices[slices.patient == patient]
        scaled, _ = load_arrays(rows, size)
        prepared, _ = load_arrays(rows, size, volumes=volumes)
        brain = scaled[..., FLAIR] > BACKGROUND
        before[patient], after[patient] = scaled[..., FLAIR][brain], prepared[..., FLAIR][brain]
    return before, after


def train_steps(slices, split, profile, volumes):
    """Each step's trained UNet and history: the study recipe's is chapter 3's UNet, the one on intensities per
    volume is saved beside it as ``VOLUME_UNET`` (the evaluation command scores it too)."""
    steps = {}
    for step, per_volume in STEPS.items():
        folder = artifacts_dir(profile) / VOLUME_UNET if per_volume else None
        model, history, _ = training.train_model("unet", slices, split, profile, folder=folder,
                                                 volumes=volumes if per_volume else None)
        steps[step] = model, history
    return steps


def largest_per_patient(rows, probabilities):
    """``scoring.largest_component`` of each patient's volume (its rows of the slice table, in slice order)."""
    kept = np.empty_like(probabilities)
    for index in rows.groupby("patient", sort=False).indices.values():
        kept[index] = scoring.largest_component(probabilities[index])
    return kept


def summary(scores):
    """Per-patient 3-D Dice (mean and 95% bootstrap interval), tumour-slice Dice and slice errors."""
    patients = scoring.patient_scores(scores)
    low, high = scoring.bootstrap_ci(patients.dice)
    return {"patient dice": patients.dice.mean(), "ci low": low, "ci high": high,
            "tumour-slice dice": scores.dice[scores.tumour].mean(), **scoring.slice_errors(scores)}


def score_steps(steps, slices, split, volumes):
    """A row per step, post-processing and split (val, test): ``summary``, training minutes, and whether the
    post-processing is the step's choice (the best validation patient Dice). Each split is predicted once
    per flip setting; the post-processings share those predictions."""
    rows, parts = [], {part: split_rows(slices, split, part) for part in ("val", "test")}
    for step, (model, history) in steps.items():
        minutes = history["seconds"].sum() / 60 if "seconds" in history else np.nan
        predicted = {(part, flip): scoring.predict(model, part_rows, volumes=volumes if STEPS[step] else None, flip=flip)
                     for part, part_rows in parts.items() for flip in {flip for flip, _ in POST.values()}}
        for post, (flip, largest) in POST.items():
            for part, part_rows in parts.items():
                truth, probabilities = predicted[part, flip]
                if largest:
                    probabilities = largest_per_patient(part_rows, probabilities)
                rows.append({"step": step, "post-processing": post, "split": part,
                             **summary(scoring.slice_scores(part_rows, truth, probabilities)), "training minutes": minutes})
    table = pd.DataFrame(rows)
    val = table[table.split == "val"]
    chosen = val.loc[val.groupby("step", sort=False)["patient dice"].idxmax(), ["step", "post-processing"]]
    return table.assign(chosen=table.set_index(["step", "post-processing"]).index.isin(
        chosen.set_index(["step", "post-processing"]).index))


def chosen(table, part):
    """Each step's row on split ``part`` with the post-processing chosen on validation, indexed by step."""
    return table[table.chosen & (table.split == part)].set_index("step")


def view(table):
    """The results for the reader: a row per step and post-processing, the validation and test patients'
    scores side by side (patient Dice with its 95% interval), the chosen post-processing marked."""
    table = table.assign(**{"patient dice (95% CI)": [f"{d:.3f} ({lo:.3f}-{hi:.3f})" for d, lo, hi in
                                                       zip(table["patient dice"], table["ci low"], table["ci high"])]})
    wide = table.pivot_table(index=["step", "post-processing", "chosen", "training minutes"], columns="split",
                             values=["patient dice (95% CI)", "tumour-slice dice", "missed tumour slices",
                                     "false-positive slices"], aggfunc="first", sort=False)
    return wide.swaplevel(axis=1).reindex(columns=["val", "test"], level=0).reset_index(["chosen", "training minutes"])


def main(argv=None):
    """Train (or load) every step in the active profile, score it, print the table and save it as CSV."""
    from .config import get_profile
    from .data import find_data_dir
    from .splits import course_data

    parser = argparse.ArgumentParser(prog="python -m lgg_utils.recipe", description=main.__doc__)
    parser.add_argument("--out", type=Path, help="CSV file (default: <artifacts>/recipe.csv)")
    args = parser.parse_args(argv)
    profile = get_profile()
    training.reproducible(profile.seed)
    slices, split = course_data(profile, find_data_dir(), progress=True)
    volumes = volume_table(slices)
    table = score_steps(train_steps(slices, split, profile, volumes), slices, split, volumes)
    out = args.out or artifacts_dir(profile) / "recipe.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    print(table.round(3).to_string())
    print(f"Wrote {out}.")


if __name__ == "__main__":
    main()
