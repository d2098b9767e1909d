import json

import numpy as np
import pandas as pd
import pytest

from lgg_utils import augmentation, config, data, losses, models, pipeline, recipe, splits, training, volumes

LATER = ("+ rotation and scaling", "+ sampling by tumour area", "+ neighbouring slices")  # after the shipped run
ROTATED, BY_AREA, NEIGHBOURS = LATER  # (recipe.LAPTOP_LATER)


def test_largest_component_is_kept_per_patient():
    rows = pd.DataFrame({"patient": ["a"] * 3 + ["b"] * 3})
    probabilities = np.zeros((6, 8, 8, 1), np.float32)
    probabilities[0:2, 1:4, 1:4] = 0.9  # patient a: a big region and a speck
    probabilities[2, 7, 7] = 0.9
    probabilities[4, 5, 5] = 0.9  # patient b: only a speck, which is its largest
    kept = recipe.largest_per_patient(rows, probabilities)
    assert kept[0:2, 1:4, 1:4].all() and kept[2, 7, 7] == 0 and kept[4, 5, 5] == 1
    assert kept.sum() == 2 * 9 + 1


@pytest.fixture(scope="module")
def split(sample_slices, tmp_path_factory):
    return splits.make_splits(data.patient_table(sample_slices), tmp_path_factory.mktemp("s") / "splits.csv")


@pytest.fixture(scope="module")
def volume_stats(sample_slices):
    return volumes.volume_table(sample_slices, progress=False, crop=True)


@pytest.fixture(scope="module")
def steps():
    model = models.unet((32, 32, 3), width=0.0625)  # one model for every step taking one slice
    history = pd.DataFrame({"loss": [1.0], "seconds": [90.0]})
    neighboured = models.unet((32, 32, 9), width=0.0625)
    return {step: (neighboured if recipe.STEPS[step].neighbours else model, history) for step in recipe.STEPS}


@pytest.fixture(scope="module")
def scored(steps, sample_slices, split, volume_stats):
    return recipe.score_steps(steps, sample_slices, split, volume_stats)


def test_every_step_is_scored_on_validation_and_test_with_its_choice_made_on_validation(scored):
    assert set(scored.step) - set(recipe.STEPS) <= {recipe.ENSEMBLE}  # its rows: where two steps qualify
    assert len(scored) == scored.step.nunique() * len(recipe.POST) * 2
    assert (scored[scored.step.isin(recipe.STEPS)]["training minutes"] == 1.5).all()
    for (step, part), rows in scored.groupby(["step", "split"]):
        assert rows.chosen.sum() == 1
    val = scored[scored.split == "val"]
    best = val.loc[val.groupby("step")["patient dice"].idxmax()]
    assert set(zip(best.step, best["post-processing"])) == set(zip(*recipe.chosen(scored, "val").reset_index()[["step", "post-processing"]].T.values))
    assert recipe.view(scored).shape[0] == scored.step.nunique() * len(recipe.POST)


def test_the_segmenter_as_a_detector_is_wrong_on_its_error_slices_only(scored, split, sample_slices):
    counts = {part: len(splits.split_rows(sample_slices, split, part)) for part in ("val", "test")}
    errors = scored["missed tumour slices"] + scored["false-positive slices"]
    assert np.allclose(scored["detection accuracy"], 1 - errors / scored.split.map(counts))


def test_each_step_is_compared_with_the_first_patient_by_patient(scored):
    first = scored[scored.step == next(iter(recipe.STEPS))]
    assert (first.gain == 0).all() and (first["gain low"] == 0).all() and (first["gain high"] == 0).all()
    same_model = scored[(scored["post-processing"] == "as predicted") & scored.step.isin(recipe.STEPS)]  # one model for all
    prepared_alike = same_model.step.map(lambda s: not (recipe.STEPS[s].per_volume or recipe.STEPS[s].neighbours))
    assert (same_model.gain[prepared_alike] == 0).all()


def test_the_paired_gain_is_the_mean_per_patient_difference_with_its_interval():
    dice = pd.Series({"a": 0.8, "b": 0.6, "c": 0.9})
    baseline = pd.Series({"c": 0.7, "a": 0.7, "b": 0.6})
    gain = recipe.paired_gain(dice, baseline)
    assert gain["gain"] == pytest.approx(0.1) and gain["gain low"] <= 0.1 <= gain["gain high"]
    assert gain["gain low"] >= 0  # no patient got worse
    with pytest.raises(ValueError, match="same patients"):
        recipe.paired_gain(dice, baseline.drop("c"))


def test_the_shipped_laptop_results_name_the_steps_before_the_later_ones_and_the_ensemble():
    laptop = pd.read_csv(recipe.LAPTOP_RESULTS)
    first = [step for step in recipe.STEPS if step not in LATER]  # the run before the later steps
    assert list(laptop.step.unique()) == [*first, recipe.ENSEMBLE]
    assert set(laptop["post-processing"]) == set(recipe.POST)
    assert len(recipe.chosen(laptop, "test")) == len(first) + 1
    assert len(recipe.view(laptop)) == (len(first) + 1) * len(recipe.POST)
    assert recipe.chosen(laptop, "test").gain.notna().all()  # one run: every step's gain over the study recipe
    members = json.loads(laptop.loc[laptop.step == recipe.ENSEMBLE, "members"].iloc[0])
    assert members == recipe.ensemble_members(laptop)  # the members it records are those validation chooses


def test_the_shipped_later_table_is_the_shipped_run_with_the_later_steps_and_the_ensemble_of_all_steps():
    laptop, later = pd.read_csv(recipe.LAPTOP_RESULTS), pd.read_csv(recipe.LAPTOP_LATER)
    assert list(later.step.unique()) == [*recipe.STEPS, recipe.ENSEMBLE]  # the ensemble chosen among the steps, last
    carried = later[later.step.isin(recipe.STEPS) & ~later.step.isin(LATER)].drop(columns="members").reset_index(drop=True)
    pd.testing.assert_frame_equal(carried, laptop[laptop.step.isin(recipe.STEPS)].drop(columns="members").reset_index(
        drop=True), check_dtype=False)  # the other steps' rows as shipped, so its gain is over the same study recipe
    assert recipe.chosen(later, "test").gain.notna().all()
    members = json.loads(later.loc[later.step == recipe.ENSEMBLE, "members"].iloc[0])
    assert members == recipe.ensemble_members(later) and set(LATER) <= set(members)  # each later step joins it
    minutes = later.groupby("step", sort=False)["training minutes"].first()
    assert minutes[recipe.ENSEMBLE] == pytest.approx(minutes[members].sum())  # its members' minutes as shipped
    assert recipe.merged(later.iloc[:0], later).equals(later)  # it holds: kept by every later merge of this table


def test_runs_are_compared_step_by_step_on_both_splits():
    runs = {"later": pd.read_csv(recipe.LAPTOP_RESULTS), "earlier": pd.read_csv(recipe.LAPTOP_EARLIER)}
    compared = recipe.runs_compared(runs)
    assert list(compared.index) == [step for step in recipe.STEPS if step not in LATER]  # steps both runs scored
    assert list(compared.columns) == [(run, part) for run in runs for part in ("val", "test")]
    assert compared.notna().all().all()
    assert compared.loc["study recipe", ("later", "test")] == recipe.chosen(runs["later"], "test").loc[
        "study recipe", "patient dice"]


def test_steps_scored_without_the_study_recipe_record_no_gain_and_merge_into_an_earlier_table(scored, steps,
                                                                                               sample_slices, split,
                                                                                               volume_stats):
    old = scored.drop(columns="patient dices").assign(**{"patient dice": -1.0})  # a table written before the column
    last = list(recipe.STEPS)[-1]
    again = recipe.score_steps({last: steps[last]}, sample_slices, split, volume_stats)
    assert again.gain.isna().all()
    table = recipe.merged(again, old)
    assert recipe.ENSEMBLE not in set(table.step)  # its members change (the earlier Dice are -1) or were scored again
    assert len(table) == len(recipe.STEPS) * len(recipe.POST) * 2
    assert (table[table.step == last]["patient dice"] >= 0).all() and table[table.step == last].gain.isna().all()
    assert (table[table.step != last]["patient dice"] == -1).all()
    assert table[table.step != last]["patient dices"].isna().all()
    assert recipe.score_steps({last: steps[last]}, sample_slices, split, volume_stats, earlier=table).gain.isna().all()


def test_an_earlier_ensemble_is_kept_only_while_its_members_still_hold():
    study, volume, *others, last = recipe.STEPS

    def rows(dice):
        return pd.DataFrame([{"step": step, "post-processing": "as predicted", "split": part, "chosen": True,
                              "patient dice": d} for step, d in dice.items() for part in ("val", "test")])
    earlier = rows({study: 0.7, volume: 0.8, **dict.fromkeys(others, 0.6)})
    earlier = pd.concat([earlier, rows({recipe.ENSEMBLE: 0.75}).assign(members=json.dumps([study, volume]))])
    assert recipe.ENSEMBLE in set(recipe.merged(rows({last: 0.65}), earlier).step)  # a new step below the study recipe
    assert recipe.ENSEMBLE not in set(recipe.merged(rows({last: 0.7}), earlier).step)  # one that joins its members
    assert recipe.ENSEMBLE not in set(recipe.merged(rows({volume: 0.9}), earlier).step)  # a member scored again
    unrecorded = earlier.drop(columns="members")  # a table written before the column: its members cannot be checked
    assert recipe.ENSEMBLE not in set(recipe.merged(rows({last: 0.65}), unrecorded).step)


def test_each_step_trains_with_its_loss_and_takes_its_preparation(sample_slices):
    table = volumes.volume_table(sample_slices.head(30), progress=False, crop=True)
    assert recipe.STEPS["study recipe"].recipe == training.RECIPES["unet"]
    assert recipe.STEPS["+ Dice loss"].recipe.loss is losses.dice_loss
    assert recipe.STEPS["+ pooled Dice loss"].recipe.loss is losses.pooled_dice_loss
    assert recipe.STEPS[ROTATED].augmentation is augmentation.augment_rotated
    assert recipe.STEPS[ROTATED].recipe == training.RECIPES["unet"] and recipe.STEPS[ROTATED].preparation(table) is None
    by_area = recipe.STEPS[BY_AREA]
    assert by_area.sampling is pipeline.tumour_area_weights and by_area.augmentation is augmentation.augment
    assert by_area.recipe == training.RECIPES["unet"] and by_area.preparation(table) is None
    assert all(step.sampling is None for name, step in recipe.STEPS.items() if name != BY_AREA)
    assert recipe.STEPS[NEIGHBOURS].neighbours and recipe.STEPS[NEIGHBOURS].recipe == training.RECIPES["unet"]
    assert [name for name, step in recipe.STEPS.items() if step.neighbours] == [NEIGHBOURS]
    assert recipe.steps_table().loc[NEIGHBOURS, "input"] == "with its neighbours"
    assert recipe.STEPS["study recipe"].preparation(table) is None
    assert list(recipe.STEPS["+ intensities per volume"].preparation(table).columns) == volumes.STATS
    assert recipe.Step("unet_volume_crop", per_volume=True, crop=True).preparation(table) is table
    with pytest.raises(ValueError, match="needs per_volume"):
        recipe.Step("unet_crop", crop=True)


def test_the_named_steps_are_trained_with_their_augmentation_sampling_and_input(monkeypatch, tmp_path):
    options = {}

    def train_model(name, slices, split, profile, **settings):
        options[settings["folder"].name] = settings
        return "model", "history", True

    monkeypatch.setattr(training, "train_model", train_model)
    monkeypatch.setattr(recipe, "artifacts_dir", lambda profile: tmp_path)
    trained = recipe.train_steps(None, None, config.get_profile("fast"), None, names=[NEIGHBOURS, BY_AREA, ROTATED])
    assert list(trained) == list(LATER) and trained[BY_AREA] == ("model", "history")  # in STEPS order
    assert options["unet_area_sampling"]["sampling"] is pipeline.tumour_area_weights
    assert options["unet_rotate_scale"]["augmentation"] is augmentation.augment_rotated
    assert options["unet_rotate_scale"]["sampling"] is None and not options["unet_rotate_scale"]["neighbours"]
    assert options["unet_neighbours"]["neighbours"]


def test_a_step_scored_later_gains_over_the_study_recipes_stored_patient_dice(scored, steps, sample_slices, split,
                                                                              volume_stats, tmp_path):
    last = list(recipe.STEPS)[-1]
    scored.to_csv(tmp_path / "recipe.csv", index=False)
    earlier = pd.read_csv(tmp_path / "recipe.csv")
    later = recipe.score_steps({last: steps[last]}, sample_slices, split, volume_stats, earlier=earlier)
    columns = ["post-processing", "split", "patient dice", "gain", "gain low", "gain high"]
    pd.testing.assert_frame_equal(later[columns].reset_index(drop=True),
                                  scored.loc[scored.step == last, columns].reset_index(drop=True))
    stored = recipe.stored_dice(earlier, last, "as predicted", "test")
    assert stored.mean() == pytest.approx(later.query("split == 'test'")["patient dice"].iloc[0])
    assert recipe.stored_dice(earlier.drop(columns="patient dices"), last, "as predicted", "test") is None


def test_top_patient_gain_names_the_patient_a_mean_gain_rests_on():
    def rows(step, dices):
        return [{"step": step, "post-processing": post, "split": "val", "chosen": post == "largest component",
                 "patient dices": json.dumps(dices if post == "largest component" else {})} for post in recipe.POST]

    table = pd.DataFrame(rows("study recipe", {"a": 0.0, "b": 0.8, "c": 0.9}) + rows(ROTATED, {"a": 0.6, "b": 0.7, "c": 0.8}))
    top = recipe.top_patient_gain(table, ROTATED)
    assert top["patient"] == "a" and (top["study recipe"], top["step"]) == (0.0, 0.6)
    assert top["others"] == pytest.approx(-0.1)


def test_the_ensemble_members_are_the_steps_at_least_as_good_as_the_study_recipe_on_validation():
    dice = dict(zip(recipe.STEPS, [0.70, 0.70, 0.75, 0.60, 0.71, 0.69, 0.72, 0.65], strict=True))
    table = pd.DataFrame([{"step": step, "split": "val", "chosen": True, "patient dice": d} for step, d in dice.items()])
    assert recipe.ensemble_members(table) == [step for step, d in dice.items() if d >= 0.70]


def level_predictions(level, parts, volumes):
    """A stand-in for ``recipe.predictions``: a "model" is a probability inside the tumour, per split."""
    truth = {part: np.zeros((len(rows), 4, 4, 1), np.float32) for part, rows in parts.items()}
    for part, rows in parts.items():
        truth[part][rows.tumour.to_numpy(), 1:3, 1:3] = 1
    return {(part, mirror): (truth[part], truth[part] * level[part]) for part in parts for mirror in (False, True)}


def test_the_ensemble_averages_its_members_probabilities_and_is_scored_like_a_step(sample_slices, split, volume_stats,
                                                                                monkeypatch):
    monkeypatch.setattr(recipe, "predictions", level_predictions)
    study, volume, *rest = recipe.STEPS  # study recipe and one more step: perfect on validation; the rest silent
    levels = {study: {"val": 0.9, "test": 0.9}, volume: {"val": 0.9, "test": 0.2}}
    history = pd.DataFrame({"seconds": [60.0]})
    steps = {step: (levels.get(step, {"val": 0.0, "test": 0.0}), history) for step in recipe.STEPS}
    table = recipe.score_steps(steps, sample_slices, split, volume_stats)
    test = recipe.chosen(table, "test")
    ensemble = test.loc[recipe.ENSEMBLE]
    assert json.loads(ensemble["members"]) == [study, volume] and ensemble["training minutes"] == 2.0  # theirs summed
    assert ensemble["patient dice"] == 1.0  # (0.9 + 0.2) / 2 is above one half: the mean of probabilities, not of scores
    assert test.loc[volume, "patient dice"] < 1.0
    assert ensemble["gain"] == pytest.approx(ensemble["patient dice"] - test.loc[study, "patient dice"])
    levels[volume]["test"] = 0.0  # (0.9 + 0) / 2 is below one half: the ensemble draws nothing
    table = recipe.score_steps(steps, sample_slices, split, volume_stats)
    assert recipe.chosen(table, "test").loc[recipe.ENSEMBLE, "patient dice"] < 1.0
    assert recipe.ENSEMBLE not in recipe.score_steps({study: steps[study]}, sample_slices, split, volume_stats).step.values
    assert set(recipe.merged(table[table.step == volume], table).step) == set(recipe.STEPS)  # a member scored again


def test_the_ensembles_members_are_saved_by_their_model_folders_and_removed_with_it(tmp_path):
    members = ["study recipe", "+ flip augmentation only"]
    table = pd.DataFrame({"step": [*recipe.STEPS, recipe.ENSEMBLE],
                          "members": [np.nan] * len(recipe.STEPS) + [json.dumps(members)]})
    recipe.save_ensemble(tmp_path, table)
    assert recipe.saved_ensemble(tmp_path) == ["unet", "unet_volume_flips"]
    recipe.save_ensemble(tmp_path, table[table.step != recipe.ENSEMBLE])
    assert recipe.saved_ensemble(tmp_path) == [] and not (tmp_path / recipe.ENSEMBLE_FILE).exists()


def test_seeds_are_scored_alone_against_the_first_and_averaged_like_the_ensemble(sample_slices, split, monkeypatch):
    monkeypatch.setattr(recipe, "predictions", level_predictions)
    history = pd.DataFrame({"seconds": [60.0]})
    runs = {"seed 42": ({"val": 0.9, "test": 0.9}, history), "seed 1": ({"val": 0.9, "test": 0.2}, history)}
    test = recipe.chosen(recipe.score_seeds(runs, sample_slices, split), "test")
    assert list(test.index) == [*runs, recipe.SEED_MEAN]
    assert test.loc["seed 1", "patient dice"] < 1.0 == test.loc[recipe.SEED_MEAN, "patient dice"]  # (0.9 + 0.2) / 2
    assert test.loc[recipe.SEED_MEAN, "training minutes"] == 2.0 and json.loads(test.loc[recipe.SEED_MEAN, "members"]) == [*runs]
    assert test.loc["seed 42", "gain"] == 0
    assert test.loc["seed 1", "gain"] == pytest.approx(test.loc["seed 1", "patient dice"] - test.loc["seed 42", "patient dice"])


def test_another_seed_keeps_the_profiles_patient_split_in_an_artifacts_folder_of_its_own():
    laptop = config.PROFILES["laptop"]
    assert config.artifacts_dir(recipe.seed_profile(laptop, 1), env={}).name == "seed-1-split-42"
    assert recipe.seed_profile(laptop, 42) is laptop  # its own seed: the same fingerprint, so its models are reused
    assert recipe.seed_profile(config.PROFILES["fast"], 3).patient_seed == 42  # the fast profile's split stays fixed


def test_the_command_with_seeds_trains_the_profiles_seed_and_those_and_saves_their_table(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("LGG_PROFILE", "fast")
    monkeypatch.setenv("LGG_ARTIFACTS_DIR", str(tmp_path))
    for name in ("LGG_DATA_DIR", "LGG_SEED", "LGG_SPLIT_SEED"):
        monkeypatch.delenv(name, raising=False)  # the bundled sample, the fast profile's own seeds
    trained = {}
    monkeypatch.setattr(recipe, "train_seeds", lambda slices, split, profile, seeds: trained.setdefault("seeds", seeds))
    monkeypatch.setattr(recipe, "score_seeds", lambda runs, slices, split: pd.DataFrame(
        {"step": ["seed 42"], "patient dices": ["{}"]}))
    recipe.main(["--seeds", "1", "2"])
    assert trained["seeds"] == [42, 1, 2]
    assert pd.read_csv(tmp_path / "fast" / "seed-42" / "recipe_seeds.csv").step.tolist() == ["seed 42"]
    assert "recipe_seeds.csv" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        recipe.main(["--seeds", "1", "--steps", "study recipe"])  # one or the other


def test_the_shipped_seeds_table_starts_from_the_shipped_runs_study_recipe_and_averages_all_three():
    seeds, laptop = pd.read_csv(recipe.LAPTOP_SEEDS), pd.read_csv(recipe.LAPTOP_RESULTS)
    runs = [f"study recipe, seed {seed}" for seed in (42, 1, 2)]
    assert list(seeds.step.unique()) == [*runs, recipe.SEED_MEAN]
    assert json.loads(seeds.loc[seeds.step == recipe.SEED_MEAN, "members"].iloc[0]) == runs
    for post in recipe.POST:  # seed 42 is the shipped run's study recipe: the same model, patient for patient
        for part in ("val", "test"):
            assert recipe.stored_dice(seeds, runs[0], post, part).equals(recipe.stored_dice(laptop, "study recipe", post, part))


def test_thresholds_are_chosen_on_validation_with_the_gain_over_the_same_run_at_one_half(sample_slices, split,
                                                                                         monkeypatch):
    monkeypatch.setattr(recipe, "predictions", level_predictions)
    history = pd.DataFrame({"seconds": [60.0]})
    runs = {"seed 42": ({"val": 0.45, "test": 0.55}, history), "seed 1": ({"val": 0.9, "test": 0.8}, history)}
    table = recipe.score_thresholds(runs, sample_slices, split)
    assert len(table) == 3 * len(recipe.POST) * len(recipe.THRESHOLDS) * 2  # two runs and their mean
    assert (table.loc[table.threshold == 0.5, "gain"] == 0).all()
    test = recipe.chosen(table, "test")
    assert test.loc["seed 42", "threshold"] == 0.4  # the best on validation nearest 0.5 (on test: 0.5 itself)
    assert test.loc["seed 42", "gain"] == 0 and test.loc["seed 42", "patient dice"] == 1.0
    assert recipe.chosen(table, "val").loc["seed 42", "gain"] > 0  # found below 0.5 only
    mean = table.query("step == @recipe.SEED_MEAN and split == 'val' and `post-processing` == 'as predicted'")
    mean = mean.set_index("threshold")["patient dice"]
    assert mean[0.6] == 1.0 > mean[0.7]  # the mean of the probabilities (0.675), not of the masks
    assert test.loc[recipe.SEED_MEAN, "training minutes"] == 2.0
    assert len(recipe.view(table[table.chosen], ("post-processing", "threshold"), "0.5")) == 3


def test_masks_cut_at_one_half_score_as_the_probabilities_do(sample_slices, split):
    parts = {"val": splits.split_rows(sample_slices, split, "val")}
    rng = np.random.default_rng(0)
    truth = rng.random((len(parts["val"]), 8, 8, 1)) > 0.7
    probabilities = np.where(rng.random(truth.shape) > 0.8, 0.5, rng.random(truth.shape)).astype(np.float16)
    predicted = {("val", mirror): (truth, probabilities) for mirror in (False, True)}  # a fifth exactly 0.5
    cut, raw = (recipe.post_processed_scores(p, parts) for p in (recipe.thresholded(predicted, 0.5), predicted))
    for key in raw:
        assert cut[key].dice.equals(raw[key].dice)


def test_the_command_with_thresholds_scores_the_profiles_seed_and_refuses_steps(monkeypatch, tmp_path):
    monkeypatch.setenv("LGG_PROFILE", "fast")
    monkeypatch.setenv("LGG_ARTIFACTS_DIR", str(tmp_path))
    for name in ("LGG_DATA_DIR", "LGG_SEED", "LGG_SPLIT_SEED"):
        monkeypatch.delenv(name, raising=False)
    trained = {}
    monkeypatch.setattr(recipe, "train_seeds", lambda slices, split, profile, seeds: trained.setdefault("seeds", seeds))
    monkeypatch.setattr(recipe, "score_thresholds", lambda runs, slices, split: pd.DataFrame(
        {"step": ["seed 42"], "patient dices": ["{}"]}))
    recipe.main(["--thresholds"])
    assert trained["seeds"] == [42]
    assert (tmp_path / "fast" / "seed-42" / "recipe_thresholds.csv").exists()
    with pytest.raises(SystemExit):
        recipe.main(["--thresholds", "--steps", "study recipe"])


def test_the_shipped_thresholds_table_cut_at_one_half_is_the_shipped_seeds_table():
    thresholds, seeds = pd.read_csv(recipe.LAPTOP_THRESHOLDS), pd.read_csv(recipe.LAPTOP_SEEDS)
    assert set(thresholds.threshold) == set(recipe.THRESHOLDS)
    runs = list(thresholds.step.unique())
    assert len(runs) > 2 and recipe.SEED_MEAN in runs
    for run in runs:  # the same models as the seeds table's: at 0.5, the same scores patient for patient
        for post in recipe.POST:
            for part in ("val", "test"):
                assert recipe.stored_dice(thresholds[thresholds.threshold == 0.5], run, post, part).equals(
                    recipe.stored_dice(seeds, run, post, part))
