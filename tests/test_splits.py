import pandas as pd
import pytest

from lgg_utils import data, splits


def patients_frame(with_tumour, without_tumour=0):
    """A patient table with only what splitting needs."""
    names = [f"P{i:03d}" for i in range(with_tumour + without_tumour)]
    return pd.DataFrame({"tumour_slices": [5] * with_tumour + [0] * without_tumour,
                         "slices": [20] * len(names)}, index=pd.Index(names, name="patient"))


def test_no_patient_is_in_two_splits_and_every_patient_has_one():
    split = splits.split_patients(patients_frame(85))
    assert split.index.is_unique and set(split) == set(splits.SPLITS)
    assert len(split) == 85


def test_fractions_follow_the_study():
    counts = splits.split_patients(patients_frame(85)).value_counts()
    assert counts["test"] == round(0.15 * 85)  # 13
    assert counts["val"] == round(0.10 * (85 - counts["test"]))  # 7
    assert counts["train"] == 85 - counts["test"] - counts["val"]


def test_split_is_reproducible_and_depends_on_the_seed():
    frame = patients_frame(40)
    assert splits.split_patients(frame, seed=3).equals(splits.split_patients(frame, seed=3))
    assert not splits.split_patients(frame, seed=3).equals(splits.split_patients(frame, seed=4))


def test_split_is_stratified_so_each_split_has_tumour_patients():
    frame = patients_frame(6, without_tumour=14)
    for seed in range(20):
        split = splits.split_patients(frame, seed=seed)
        for name in splits.SPLITS:
            assert (frame.tumour_slices[split == name] > 0).any(), (seed, name)


def test_too_few_tumour_patients_is_a_clear_error():
    with pytest.raises(ValueError, match="at least 3 patients with a tumour"):
        splits.split_patients(patients_frame(2, without_tumour=10))


def test_slices_of_one_patient_stay_together(sample_slices):
    patients = data.patient_table(sample_slices)
    split = splits.split_patients(patients)
    per_patient = sample_slices.assign(split=sample_slices.patient.map(split)).groupby("patient").split.nunique()
    assert (per_patient == 1).all()


def test_saved_split_is_kept_when_identical_and_never_silently_replaced(tmp_path):
    frame = patients_frame(20)
    path = tmp_path / "fast" / "splits.csv"
    first = splits.make_splits(frame, path, seed=1)
    stamp = path.stat().st_mtime_ns
    splits.make_splits(frame, path, seed=1)
    assert path.stat().st_mtime_ns == stamp
    with pytest.raises(FileExistsError, match="different split.*overwrite=True"):
        splits.make_splits(frame, path, seed=2)
    assert splits.load_splits(path).equals(first.sort_index().rename_axis("patient"))
    splits.save_splits(splits.split_patients(frame, seed=2), path, overwrite=True)
    assert not splits.load_splits(path).equals(first.sort_index().rename_axis("patient"))


def test_missing_split_file_says_which_chapter_makes_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="run the data chapter"):
        splits.load_splits(tmp_path / "splits.csv")


def test_slice_level_split_leaks_neighbours(kaggle_dir):
    table = data.slice_table(kaggle_dir, progress=False)
    assert splits.slice_level_leak(table, seed=0) > 0.8
    by_patient = table.patient.map(splits.split_patients(data.patient_table(table), seed=0)) == "test"
    assert splits.neighbour_leak(table, by_patient) == 0.0


def test_split_table_sums_to_the_patients(sample_slices):
    patients = data.patient_table(sample_slices)
    table = splits.split_table(patients, splits.split_patients(patients))
    assert table.patients.sum() == len(patients) and table.slices.sum() == len(sample_slices)


def test_course_data_reuses_the_saved_split(monkeypatch, tmp_path):
    from lgg_utils import config

    monkeypatch.setenv("LGG_ARTIFACTS_DIR", str(tmp_path))
    profile = config.get_profile("fast", env={})
    slices, split = splits.course_data(profile, data.SAMPLE_DIR)
    assert (tmp_path / "fast" / "seed-42" / "splits.csv").is_file() and set(split.index) == set(slices.patient)
    assert splits.course_data(profile, data.SAMPLE_DIR)[1].equals(split)
