"""Find the LGG data, parse the Kaggle layout, read slices and summarise patients.

The layout (Buda et al., the Kaggle ``lgg-mri-segmentation`` set): one folder per patient,
``<case>_<n>.tif`` (3 channels: pre-contrast, FLAIR, post-contrast) beside ``<case>_<n>_mask.tif``
(0 or 255), and ``data.csv`` with clinical and genomic data keyed by the 12-character patient id.
"""
import os
import re
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError
from tqdm.auto import tqdm

from .config import colab_drive

SAMPLE_DIR = Path(__file__).parent / "sample" / "kaggle_3m"
KAGGLE_DATASET = "mateuszbuda/lgg-mri-segmentation"
SLICE_SIZE = (256, 256)  # (height, width) of every slice in the public data set
INSTITUTIONS = {  # TCGA tissue-source-site codes found in the LGG collection
    "CS": "Thomas Jefferson University",
    "DU": "Henry Ford Hospital",
    "EZ": "UNC",
    "FG": "Case Western",
    "HT": "Case Western - St. Joe's",
}
LAYOUT_HINT = ("Expected the Kaggle layout: one folder per patient holding <case>_<n>.tif and "
               "<case>_<n>_mask.tif (for example kaggle_3m/TCGA_CS_4942_19970222/TCGA_CS_4942_19970222_1.tif).")


class DataError(ValueError):
    """The data folder is missing, empty, incomplete or not in the Kaggle layout."""


class CorruptSliceError(DataError):
    """A slice or mask file cannot be read as an image."""


def find_data_dir(path=None, env=None):
    """The data folder: ``path`` if given, else ``$LGG_DATA_DIR``, else the bundled sample."""
    env = os.environ if env is None else env
    if path is not None:
        chosen, source = Path(path), "the path you gave"
    elif env.get("LGG_DATA_DIR"):
        chosen, source = Path(env["LGG_DATA_DIR"]), "LGG_DATA_DIR"
    else:
        chosen, source = SAMPLE_DIR, "the bundled sample"
    chosen = chosen.expanduser()
    if not chosen.is_dir():
        where = "" if chosen.is_absolute() else f", relative to {Path.cwd()}"  # a notebook runs in its own folder
        raise DataError(f"No data folder at {chosen} (from {source}{where}). {LAYOUT_HINT} "
                        "Set LGG_DATA_DIR to the folder, or call lgg_utils.data.download_kaggle().")
    return chosen


def download_kaggle():
    """Download the Kaggle copy with ``kagglehub`` (Colab, online machines) into its cache, which is reused on
    the next call (in Colab with Google Drive mounted, the cache lives on Drive, so it outlives the runtime);
    set and return ``LGG_DATA_DIR``."""
    try:
        import kagglehub
    except ImportError:
        raise ImportError("download_kaggle() needs kagglehub: run `pip install kagglehub` first.") from None
    drive = colab_drive()
    if drive:
        os.environ.setdefault("KAGGLEHUB_CACHE", str(drive / "kagglehub"))  # read by kagglehub at each download
    root = Path(kagglehub.dataset_download(KAGGLE_DATASET))
    found = sorted(root.rglob("data.csv"))
    if not found:
        raise DataError(f"The download in {root} holds no data.csv. {LAYOUT_HINT}")
    os.environ["LGG_DATA_DIR"] = str(found[0].parent)
    return found[0].parent


def slice_number(path):
    """The slice index ``n`` of ``<case>_<n>.tif`` or ``<case>_<n>_mask.tif`` (so ``_2`` sorts before ``_10``)."""
    match = re.fullmatch(r".*_(\d+)(?:_mask)?\.tif", Path(path).name)
    if match is None:
        raise DataError(f"{path} does not end in _<n>.tif or _<n>_mask.tif. {LAYOUT_HINT}")
    return int(match.group(1))


def patient_id(case):
    """The 12-character TCGA patient id (``TCGA_CS_4942``) of a case folder name."""
    return case[:12]


def institution(case):
    """The tissue-source-site code (``CS``) of a case folder name."""
    return case.split("_")[1] if case.count("_") >= 2 else "?"


def _listing(paths, limit=10):
    """Up to ``limit`` paths, one per line, and how many more there are."""
    shown = "\n  ".join(str(p) for p in paths[:limit])
    more = f"\n  ... and {len(paths) - limit} more" if len(paths) > limit else ""
    return f"\n  {shown}{more}"


def _patient_folders(data_dir):
    """The patient folders (sub-folders holding .tif files) of ``data_dir``, checked for the layout."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"No data folder at {data_dir}. {LAYOUT_HINT}")
    folders = sorted(p for p in data_dir.iterdir() if p.is_dir() and any(p.glob("*.tif")))
    if folders:
        return folders
    if any(data_dir.glob("*.tif")):
        raise DataError(f"{data_dir} holds .tif files but no patient folders. {LAYOUT_HINT}")
    nested = sorted(p.parent.parent for p in data_dir.glob("*/*/*.tif"))
    hint = f" Did you mean {nested[0]}?" if nested else ""
    raise DataError(f"{data_dir} holds no patient folders with slices.{hint} {LAYOUT_HINT}")


def _pair_files(folder):
    """Map slice number -> (image path, mask path) for one patient folder, and the unpaired files."""
    images, masks = {}, {}
    for path in folder.glob("*.tif"):
        if not path.name.startswith(f"{folder.name}_"):
            raise DataError(f"{path} is in the folder of {folder.name} but is named for another case: move it to "
                            f"its own patient folder or rename it. {LAYOUT_HINT}")
        (masks if path.name.endswith("_mask.tif") else images)[slice_number(path)] = path
    pairs = {n: (images[n], masks[n]) for n in sorted(images.keys() & masks.keys())}
    orphans = [images[n] for n in images.keys() - masks.keys()], [masks[n] for n in masks.keys() - images.keys()]
    return pairs, orphans


@contextmanager
def _open_image(path):
    """Open an image file; a file that cannot be decoded raises CorruptSliceError naming it."""
    try:
        with Image.open(path) as image:
            yield image
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as err:
        raise CorruptSliceError(f"Cannot read {path} as a TIFF image ({err}). Replace it with an intact copy "
                                "from the data set, or remove it together with its image/mask partner.") from None


def read_slice(path, mask=False):
    """A slice as a uint8 array (H, W, 3), or a mask as (H, W, 1)."""
    with _open_image(path) as image:
        array = np.asarray(image.convert("L" if mask else "RGB"))
    return array[..., None] if mask else array


def image_size(path):
    """(height, width) of an image file, read from its header only."""
    with _open_image(path) as image:
        return image.height, image.width


def _check_orphans(images_only, masks_only):
    """Raise one error that lists every image without its mask and every mask without its image."""
    if not images_only and not masks_only:
        return
    parts = []
    if images_only:
        parts.append(f"{len(images_only)} image(s) without a mask:{_listing(sorted(images_only))}")
    if masks_only:
        parts.append(f"{len(masks_only)} mask(s) without an image:{_listing(sorted(masks_only))}")
    raise DataError("\n".join(parts) + "\nEach slice needs both <case>_<n>.tif and <case>_<n>_mask.tif: "
                    "restore the missing files or remove the unpaired ones.")


def _warn_other_sizes(table):
    """Warn once when some slices are not 256x256 (the pipeline resizes every slice anyway)."""
    odd = table[(table.height != SLICE_SIZE[0]) | (table.width != SLICE_SIZE[1])]
    if len(odd):
        example = odd.iloc[0]
        warnings.warn(f"{len(odd)} slice(s) are not {SLICE_SIZE[0]}x{SLICE_SIZE[1]} (e.g. {example.image_path}, "
                      f"{example.height}x{example.width}); they are resized like every other slice.", stacklevel=3)


def slice_table(data_dir, progress=True):
    """One row per slice of a Kaggle-layout folder: patient, case, institution, slice, paths, size, tumour pixels.

    Slices come in patient order, then numeric slice order. Every mask is read (to count tumour pixels)
    and every image header is checked, so a broken file is named here rather than mid-training.
    """
    folders = _patient_folders(data_dir)
    rows, images_only, masks_only = [], [], []
    for folder in tqdm(folders, desc="Reading masks", unit="patient", disable=not progress):
        pairs, (lone_images, lone_masks) = _pair_files(folder)
        images_only += lone_images
        masks_only += lone_masks
        for n, (image, mask) in pairs.items():
            height, width = image_size(image)
            rows.append({"patient": patient_id(folder.name), "case": folder.name,
                         "institution": institution(folder.name), "slice": n,
                         "image_path": str(image), "mask_path": str(mask), "height": height, "width": width,
                         "tumour_pixels": int((read_slice(mask, mask=True) >= 128).sum())})
    _check_orphans(images_only, masks_only)
    table = pd.DataFrame(rows)
    table["tumour"] = table.tumour_pixels > 0
    _warn_other_sizes(table)
    return table


def read_clinical(data_dir):
    """``data.csv`` (clinical and genomic data) indexed by patient id, or an empty table with a warning."""
    path = Path(data_dir) / "data.csv"
    if not path.is_file():
        warnings.warn(f"No data.csv in {data_dir}: the patient table has no clinical columns.", stacklevel=2)
        return pd.DataFrame(index=pd.Index([], name="patient"))
    return pd.read_csv(path).rename(columns={"Patient": "patient"}).set_index("patient")


def patient_table(slices, clinical=None):
    """One row per patient: case, institution, slices, tumour slices, tumour voxels, and data.csv's columns."""
    table = slices.groupby("patient").agg(
        case=("case", "first"), institution=("institution", "first"), slices=("slice", "size"),
        tumour_slices=("tumour", "sum"), tumour_voxels=("tumour_pixels", "sum"))
    if clinical is not None:
        table = table.join(clinical, how="left")
    return table


def institution_table(patients):
    """Patients, slices and tumour slices per institution, with the institution's name."""
    table = patients.groupby("institution").agg(
        patients=("case", "size"), slices=("slices", "sum"), tumour_slices=("tumour_slices", "sum"))
    table.insert(0, "name", [INSTITUTIONS.get(code, "unknown") for code in table.index])
    table["tumour_share"] = table.tumour_slices / table.slices
    return table


def limit_patients(slices, patients=None, seed=42):
    """The rows of ``patients`` randomly chosen (seeded) patients, or all rows when ``patients`` is None."""
    cases = slices.case.unique()
    if patients is None or patients >= len(cases):
        return slices
    chosen = set(np.random.default_rng(seed).choice(cases, size=patients, replace=False))
    return slices[slices.case.isin(chosen)].reset_index(drop=True)
