"""The study's web page as a Streamlit app (``make app``): upload an MRI slice, or pick one of the bundled
sample, choose a profile's models and a segmenter, and see the predicted mask and the tumour's size, or an
alert when the classifier finds no tumour; download the mask as PNG. The logic is ``demo``'s."""
from pathlib import Path

import matplotlib.pyplot as plt
import streamlit as st

from lgg_utils import artifacts, demo, plotting
from lgg_utils.config import PROFILES, artifacts_root
from lgg_utils.training import RECIPES, SEGMENTERS
from lgg_utils.data import SAMPLE_DIR, read_slice, slice_table

NAMES = {"unet": "UNet", "resunet": "ResUNet", "vgg19_unet": "VGG19-UNet"}  # labels of training.SEGMENTERS
TRAIN_COMMANDS = ("`make book` trains the fast profile's models (minutes, bundled sample); "
                  "`LGG_PROFILE=laptop LGG_DATA_DIR=<data> .venv/bin/python -m lgg_utils.training unet` "
                  "trains one model of the laptop profile (repeat with `classifier`, `resunet`, `vgg19_unet`).")


def trained_folders():
    """The artifacts folders (one per profile and seed) holding at least one trained segmenter, by label."""
    return {f"{name}, {folder.name.replace('-', ' ')}": folder for name in PROFILES
            for folder in sorted((artifacts_root() / name).glob("seed-*"))
            if any((folder / model / "model.keras").is_file() for model in SEGMENTERS)}


@st.cache_resource(show_spinner="Loading the models (Keras safe mode)...")
def load_models(folder, stamp):
    """The current models of an artifacts folder and the stale ones' reasons (``artifacts.load_models``),
    cached until a model file changes (``stamp``: their times)."""
    return artifacts.load_models(folder, RECIPES)


def model_stamp(folder):
    """The modification times of a folder's model files (a retrained model reloads)."""
    return tuple(sorted((p.parent.name, p.stat().st_mtime) for p in Path(folder).glob("*/model.keras")))


@st.cache_data
def sample_examples():
    """Example slices of the bundled sample: label -> (image path, mask path)."""
    return {label: (str(row.image_path), str(row.mask_path))
            for label, row in demo.example_slices(slice_table(SAMPLE_DIR, progress=False)).items()}


def sidebar():
    """The sidebar's choices: the artifacts folder, the models and the segmenter's name."""
    folders = trained_folders()
    if not folders:
        st.error(f"There are no trained models in {artifacts_root()}. {TRAIN_COMMANDS}")
        st.stop()
    label = st.sidebar.selectbox("Models of the profile", list(folders),
                                 help="Each profile's models are in artifacts/<profile>/seed-<seed>.")
    folder = folders[label]
    models, stale = load_models(folder, model_stamp(folder))
    for reason in stale.values():
        st.sidebar.warning(f"Left out: {reason}")
    if not set(models) & set(SEGMENTERS):
        st.error(f"No segmenter in {folder} matches the current code. {TRAIN_COMMANDS}")
        st.stop()
    segmenter = st.sidebar.radio("Segmenter", [m for m in SEGMENTERS if m in models],
                                 format_func=lambda name: NAMES.get(name, name))
    st.sidebar.caption(f"Models from `{folder}`.")
    return folder, models, segmenter


def chosen_image():
    """The uploaded image (or a sample slice) with its title, true mask (samples only) and notes; None if none."""
    upload = st.file_uploader("An MRI slice (TIFF, PNG or JPEG)", type=list(demo.FORMATS),
                              max_upload_size=demo.MAX_BYTES // 2**20)  # in MB; Streamlit's default is 200
    example = st.sidebar.selectbox("Or try a slice of the bundled sample", ["(none)", *sample_examples()],
                                   help="The fast profile trains on these patients: a demo, not a test.")
    if upload is not None:
        image, notes = demo.read_upload(upload.getvalue(), upload.name)
        return image, None, upload.name, notes
    if example != "(none)":
        image_path, mask_path = sample_examples()[example]
        return read_slice(image_path), read_slice(mask_path, mask=True)[..., 0] >= 128, example, []
    return None


def show_result(result, threshold, image, truth, title):
    """The alert or the tumour's size, the three numbers, the figure and the mask download."""
    message = result.message(threshold)
    (st.warning if not result.detected or result.pixels == 0 else st.success)(message)
    probability = "no classifier" if result.tumour_probability is None else f"{result.tumour_probability:.2f}"
    for column, (label, value) in zip(st.columns(3), [("Tumour pixels", f"{result.pixels:,}"),
                                                       ("Share of the brain", f"{result.brain_share:.1%}"),
                                                       ("Classifier's tumour probability", probability)]):
        column.metric(label, value)
    figure = plotting.demo_figure(image, result.mask, truth, title)
    st.pyplot(figure)
    plt.close(figure)
    st.download_button("Download the predicted mask (PNG)", demo.mask_png(result.mask),
                       file_name=f"{Path(title).stem}_mask.png", mime="image/png")


def threshold_note(folder, models, threshold):
    """Where the classifier's threshold comes from (or that there is no classifier)."""
    if "classifier" not in models:
        return "No classifier: every slice is segmented."
    if artifacts.trained_threshold(folder) is not None:
        return f"Classifier threshold {threshold:.2f}, chosen on the training patients (chapter 2)."
    return (f"Classifier threshold {threshold:.2f} (the default): chapter 2, or "
            "`python -m lgg_utils.training classifier`, chooses it on the training patients.")


def main():
    """The page."""
    st.set_page_config(page_title="Brain MRI: lower-grade glioma", layout="wide")
    st.title("Brain MRI: find and outline a lower-grade glioma")
    st.caption("A course demo of the study's cascade (ResNet50 classifier, then a segmenter). Not a medical device.")
    folder, models, segmenter = sidebar()
    threshold = artifacts.classifier_threshold(folder)
    st.sidebar.caption(threshold_note(folder, models, threshold))
    try:
        chosen = chosen_image()
    except demo.UploadError as err:
        st.error(f"Cannot use this file. {err}")
        return
    if chosen is None:
        st.info("Upload a slice, for example `<case>_<n>.tif` of the data set, or pick a sample slice on the left.")
        return
    image, truth, title, notes = chosen
    for note in notes:
        st.info(note)
    result = demo.analyse(image, models[segmenter], models.get("classifier"), threshold)
    show_result(result, threshold, image, truth, title)


if __name__ == "__main__":
    main()
