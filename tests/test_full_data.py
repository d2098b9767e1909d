"""The data layer on the whole data set (skipped unless LGG_DATA_DIR or ../shared/lgg/kaggle_3m is present)."""
import numpy as np
import pytest

from lgg_utils import data, pipeline, splits


@pytest.fixture(scope="module")
def full(full_data_dir):
    """Slice and patient tables of the whole data set."""
    slices = data.slice_table(full_data_dir, progress=False)
    return slices, data.patient_table(slices, data.read_clinical(full_data_dir))


def test_every_patient_folder_parses_into_complete_numbered_slices(full, full_data_dir):
    slices, patients = full
    folders = [p for p in full_data_dir.iterdir() if p.is_dir()]
    assert len(patients) == len(folders)
    assert len(slices) * 2 == sum(len(list(p.glob("*.tif"))) for p in folders)
    for case, group in slices.groupby("case"):
        assert list(group.slice) == list(range(1, len(group) + 1)), case


def test_every_patient_is_in_data_csv_and_has_a_tumour(full, full_data_dir):
    _, patients = full
    assert patients.index.isin(data.read_clinical(full_data_dir).index).all()
    assert patients["age_at_initial_pathologic"].notna().all()
    assert (patients.tumour_slices > 0).all()


def test_full_split_is_by_patient_with_the_studys_fractions(full):
    slices, patients = full
    split = splits.split_patients(patients)
    counts = split.value_counts()
    assert counts["test"] == int(np.floor(0.15 * len(patients) + 0.5))
    assert counts["val"] == int(np.floor(0.10 * (len(patients) - counts["test"]) + 0.5))
    assigned = slices.patient.map(split)
    assert assigned.notna().all()
    assert (slices.assign(split=assigned).groupby("patient").split.nunique() == 1).all()


def test_pipeline_reads_the_full_set(full):
    slices, _ = full
    rows = slices.groupby("case").head(2)
    images, masks = pipeline.load_arrays(rows, 64)
    assert images.shape == (len(rows), 64, 64, 3) and set(np.unique(masks)) <= {0.0, 1.0}
