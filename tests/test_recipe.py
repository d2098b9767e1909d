import numpy as np
import pandas as pd
import pytest

from lgg_utils import data, models, recipe, splits, volumes


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
def scored(sample_slices, tmp_path_factory):
    split = splits.make_splits(data.patient_table(sample_slices), tmp_path_factory.mktemp("s") / "splits.csv")
    table = volumes.volume_table(sample_slices, progress=False)
    model = models.unet((32, 32, 3), width=0.0625)
    history = pd.DataFrame({"loss": [1.0], "seconds": [90.0]})
    steps = {step: (model, history) for step in recipe.STEPS}
    return recipe.score_steps(steps, sample_slices, split, table)


def test_every_step_is_scored_on_validation_and_test_with_its_choice_made_on_validation(scored):
    assert len(scored) == len(recipe.STEPS) * len(recipe.POST) * 2
    assert (scored["training minutes"] == 1.5).all()
    for (step, part), rows in scored.groupby(["step", "split"]):
        assert rows.chosen.sum() == 1
    val = scored[scored.split == "val"]
    best = val.loc[val.groupby("step")["patient dice"].idxmax()]
    assert set(zip(best.step, best["post-processing"])) == set(zip(*recipe.chosen(scored, "val").reset_index()[["step", "post-processing"]].T.values))
    assert recipe.view(scored).shape[0] == len(recipe.STEPS) * len(recipe.POST)


def test_the_shipped_laptop_results_name_the_current_steps():
    laptop = pd.read_csv(recipe.LAPTOP_RESULTS)
    assert set(laptop.step) == set(recipe.STEPS) and set(laptop["post-processing"]) == set(recipe.POST)
    assert len(recipe.chosen(laptop, "test")) == len(recipe.STEPS)
