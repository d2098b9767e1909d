import hashlib
import os
import re
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import SHARED_DATA, write_slice
from lgg_utils import data


# --- finding the data ---------------------------------------------------------------------------

def test_explicit_path_beats_environment_beats_sample(kaggle_dir, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    assert data.find_data_dir(kaggle_dir, env={"LGG_DATA_DIR": str(other)}) == kaggle_dir
    assert data.find_data_dir(env={"LGG_DATA_DIR": str(other)}) == other
    assert data.find_data_dir(env={}) == data.SAMPLE_DIR


def test_missing_data_folder_says_where_it_looked_and_what_to_do(tmp_path):
    with pytest.raises(data.DataError, match=r"No data folder at .*missing.*LGG_DATA_DIR.*download_kaggle"):
        data.find_data_dir(env={"LGG_DATA_DIR": str(tmp_path / "missing")})


def test_missing_relative_data_folder_says_relative_to_what(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a notebook runs in its own folder, not the checkout's
    with pytest.raises(data.DataError, match=rf"No data folder at missing .*relative to {re.escape(str(Path.cwd()))}"):
        data.find_data_dir(env={"LGG_DATA_DIR": "missing"})


def test_empty_data_folder_is_refused(tmp_path):
    with pytest.raises(data.DataError, match="holds no patient folders.*Kaggle layout"):
        data.slice_table(tmp_path, progress=False)


def test_flat_folder_of_tiffs_is_not_the_kaggle_layout(tmp_path):
    write_slice(tmp_path, "TCGA_CS_1000_20000101", 1)
    with pytest.raises(data.DataError, match="no patient folders.*one folder per patient"):
        data.slice_table(tmp_path, progress=False)


def test_parent_of_the_data_folder_gets_a_hint(kaggle_dir):
    with pytest.raises(data.DataError, match=f"Did you mean {kaggle_dir}"):
        data.slice_table(kaggle_dir.parent, progress=False)


def test_tiff_not_named_like_a_slice_is_refused(kaggle_dir):
    (kaggle_dir / "TCGA_CS_1000_20000101" / "TCGA_CS_1000_20000101_notes.tif").write_bytes(b"x")
    with pytest.raises(data.DataError, match="_notes.tif does not end in _<n>.tif"):
        data.slice_table(kaggle_dir, progress=False)


def test_slice_in_another_patients_folder_is_refused(kaggle_dir):
    write_slice(kaggle_dir / "TCGA_CS_1000_20000101", "TCGA_DU_1001_20000101", 13)
    with pytest.raises(data.DataError, match="TCGA_DU_1001_20000101_13.*named for another case"):
        data.slice_table(kaggle_dir, progress=False)


# --- the layout ---------------------------------------------------------------------------------

def test_slices_are_in_numeric_order_not_text_order(kaggle_dir):
    table = data.slice_table(kaggle_dir, progress=False)
    first = table[table.case == table.case.iloc[0]]
    assert list(first.slice) == list(range(1, 13))
    assert first.image_path.iloc[1].endswith("_2.tif") and first.image_path.iloc[9].endswith("_10.tif")


def test_slice_number_reads_images_and_masks():
    assert data.slice_number("TCGA_CS_4942_19970222_10_mask.tif") == 10
    assert data.slice_number("TCGA_CS_4942_19970222_2.tif") == 2


def test_every_image_is_paired_with_its_own_mask(kaggle_dir):
    table = data.slice_table(kaggle_dir, progress=False)
    assert (table.mask_path.str.replace("_mask.tif", ".tif") == table.image_path).all()


def test_tumour_pixels_and_labels_come_from_the_masks(kaggle_dir):
    table = data.slice_table(kaggle_dir, progress=False)
    assert set(table.loc[table.tumour, "slice"]) == {4, 5, 6, 7}
    assert (table.loc[table.tumour, "tumour_pixels"] == 64 * 64).all()


def test_images_without_masks_and_masks_without_images_are_all_listed(kaggle_dir):
    case = "TCGA_DU_1001_20000101"
    (kaggle_dir / case / f"{case}_3_mask.tif").unlink()
    (kaggle_dir / case / f"{case}_9.tif").unlink()
    with pytest.raises(data.DataError) as err:
        data.slice_table(kaggle_dir, progress=False)
    message = str(err.value)
    assert "1 image(s) without a mask" in message and f"{case}_3.tif" in message
    assert "1 mask(s) without an image" in message and f"{case}_9_mask.tif" in message
    assert "restore the missing files or remove the unpaired ones" in message


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_tiff_is_named(kaggle_dir, damage):
    path = kaggle_dir / "TCGA_FG_1002_20000101" / "TCGA_FG_1002_20000101_5.tif"
    content = path.read_bytes()
    path.write_bytes(b"not an image" * 10 if damage == "garbage" else content[: len(content) // 3])
    with pytest.raises(data.CorruptSliceError, match=f"Cannot read {path}.*intact copy"):
        data.slice_table(kaggle_dir, progress=False)


def test_corrupt_pixel_data_is_named_when_read(kaggle_dir):
    path = kaggle_dir / "TCGA_FG_1002_20000101" / "TCGA_FG_1002_20000101_5.tif"
    header = Image.open(path).tile[0]  # keep the header, break the compressed pixels
    content = bytearray(path.read_bytes())
    offset = header[2]
    content[offset: offset + 64] = b"\xff" * 64
    path.write_bytes(bytes(content))
    with pytest.raises(data.CorruptSliceError, match="TCGA_FG_1002_20000101_5.tif"):
        data.read_slice(path)


def test_slice_of_another_size_gives_one_warning(kaggle_dir):
    for n in (2, 3):
        write_slice(kaggle_dir / "TCGA_CS_1000_20000101", "TCGA_CS_1000_20000101", n, size=48)
    with pytest.warns(UserWarning) as caught:
        table = data.slice_table(kaggle_dir, progress=False)
    assert len([w for w in caught if "are not 256x256" in str(w.message)]) == 1
    assert (table.height == 48).sum() == 2


def test_public_size_slices_give_no_warning(sample_slices):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data._warn_other_sizes(sample_slices)


# --- tables -------------------------------------------------------------------------------------

def test_patient_table_counts_and_joins_data_csv_by_patient_id(kaggle_dir):
    table = data.slice_table(kaggle_dir, progress=False)
    patients = data.patient_table(table, data.read_clinical(kaggle_dir))
    assert list(patients.index) == ["TCGA_CS_1000", "TCGA_DU_1001", "TCGA_FG_1002", "TCGA_HT_1003"]
    assert (patients.slices == 12).all() and (patients.tumour_slices == 4).all()
    assert (patients.tumour_voxels == 4 * 64 * 64).all()
    assert list(patients.age_at_initial_pathologic) == [40, 41, 42, 43]
    assert list(patients.institution) == ["CS", "DU", "FG", "HT"]


def test_missing_data_csv_warns_and_keeps_the_counts(kaggle_dir):
    (kaggle_dir / "data.csv").unlink()
    with pytest.warns(UserWarning, match="No data.csv"):
        clinical = data.read_clinical(kaggle_dir)
    patients = data.patient_table(data.slice_table(kaggle_dir, progress=False), clinical)
    assert len(patients) == 4 and "tumour_slices" in patients


def test_institution_table_names_the_sites(sample_slices):
    table = data.institution_table(data.patient_table(sample_slices))
    assert table.loc["DU", "name"] == "Henry Ford Hospital"
    assert table.patients.sum() == sample_slices.case.nunique()


def test_limit_patients_is_seeded_and_keeps_whole_patients(sample_slices):
    three = data.limit_patients(sample_slices, 3, seed=1)
    assert three.case.nunique() == 3
    assert three.equals(data.limit_patients(sample_slices, 3, seed=1))
    kept = sample_slices[sample_slices.case.isin(three.case)]
    assert len(kept) == len(three)
    assert data.limit_patients(sample_slices, None) is sample_slices


# --- the bundled sample -------------------------------------------------------------------------

def test_bundled_sample_is_small_varied_and_attributed(sample_slices):
    files = [p for p in data.SAMPLE_DIR.parent.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 20 * 2**20
    assert sample_slices.institution.nunique() >= 4
    assert sample_slices.tumour.any() and (~sample_slices.tumour).any()
    assert (data.SAMPLE_DIR / "README.md").is_file() and (data.SAMPLE_DIR / "data.csv").is_file()
    attribution = (data.SAMPLE_DIR.parent / "ATTRIBUTION.md").read_text()
    assert "10.1016/j.compbiomed.2019.05.002" in attribution and "TCIA" in attribution


def test_bundled_sample_is_an_unchanged_copy():
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/lgg/kaggle_3m is not here to compare with")
    for path in data.SAMPLE_DIR.glob("*/*.tif"):
        original = SHARED_DATA / path.parent.name / path.name
        assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(original.read_bytes()).digest()
    assert len(list(data.SAMPLE_DIR.glob("*/*.tif"))) == sum(
        len(list((SHARED_DATA / p.name).glob("*.tif"))) for p in data.SAMPLE_DIR.iterdir() if p.is_dir())


def test_read_slice_shapes_and_types(sample_slices):
    row = sample_slices.iloc[0]
    image, mask = data.read_slice(row.image_path), data.read_slice(row.mask_path, mask=True)
    assert image.shape == (256, 256, 3) and mask.shape == (256, 256, 1)
    assert image.dtype == mask.dtype == np.uint8
    assert set(np.unique(mask)) <= {0, 255}


# --- the Kaggle download (kagglehub is faked: no network here) ------------------------------------

def test_download_kaggle_finds_the_layout_inside_the_download_and_sets_lgg_data_dir(tmp_path, monkeypatch):
    download = tmp_path / "cache" / "versions" / "2"
    make_kaggle = download / "lgg-mri-segmentation" / "kaggle_3m"
    make_kaggle.mkdir(parents=True)
    (make_kaggle / "data.csv").write_text("Patient\n")
    asked = []
    fake = types.SimpleNamespace(dataset_download=lambda handle: asked.append(handle) or str(download))
    monkeypatch.setitem(sys.modules, "kagglehub", fake)
    monkeypatch.setenv("LGG_DATA_DIR", "")  # so that monkeypatch restores it after download_kaggle() sets it
    assert data.download_kaggle() == make_kaggle
    assert asked == ["mateuszbuda/lgg-mri-segmentation"]
    assert os.environ["LGG_DATA_DIR"] == str(make_kaggle)


def test_download_kaggle_without_kagglehub_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "kagglehub", None)
    with pytest.raises(ImportError, match="pip install kagglehub"):
        data.download_kaggle()
