"""Chapter helpers: the set-up every chapter runs first, showing the package's own source, checks, and the
steps every model chapter shows (its training, whether it learned, its test predictions, its scores)."""
import inspect
import json
import os

import IPython
import keras
import matplotlib.pyplot as plt
import pandas as pd
import tensorflow as tf
from IPython.display import Code, display

from . import benchmark, pipeline, plotting, scoring, training
from .chapter_times import chapter_time
from .config import artifacts_dir, get_profile, in_colab, overridden, profile_choice, runtime_hint
from .data import SAMPLE_DIR, download_kaggle, find_data_dir
from .splits import course_data, split_rows


def show_source(*objects):
    """Display the source of functions, classes or modules of ``lgg_utils`` with syntax highlighting."""
    for obj in objects:
        display(Code(inspect.getsource(obj), language="python"))


def glue(name, value, display=True):
    """myst-nb's ``glue``: the built book's text quotes ``value`` by ``name``. Colab installs the course without the
    book's tools, and nothing reads the name there, so without myst-nb only a displayed value is shown."""
    try:
        from myst_nb import glue as book_glue
    except ImportError:
        if display:
            IPython.display.display(value)
        return
    book_glue(name, value, display=display)


def glue_row(prefix, row, columns):
    """``glue`` each of a table row's ``columns`` (column -> short name) as a float named ``{prefix}_{short name}``,
    not displayed."""
    for column, short in columns.items():
        glue(f"{prefix}_{short}", float(row[column]), display=False)


def profile_table(profile, data_dir):
    """The profile's settings, the data folder and the artifacts folder as a one-column table."""
    settings = {field: getattr(profile, field) for field in profile.__dataclass_fields__}
    settings["patients"] = settings["patients"] or "all"
    settings["split_seed"] = profile.patient_seed  # where not set, the seed's
    settings.update(data=str(data_dir), artifacts=str(artifacts_dir(profile)))
    return pd.DataFrame({"value": [str(v) for v in settings.values()]}, index=pd.Index(settings, name="setting"))


def setup(chapter=None):
    """Seed everything, apply the figure style, find the data (downloading it in Colab for big profiles), say
    which device and profile run and why, and how long ``chapter`` (its notebook's name) took where measured.

    Returns the profile and the data folder.
    """
    profile = get_profile()
    deterministic = training.reproducible(profile.seed)
    plotting.use_style()
    tf.get_logger().setLevel("ERROR")  # no retracing warnings when several models predict in turn
    if in_colab() and profile.name != "fast" and not os.environ.get("LGG_DATA_DIR"):
        download_kaggle()
    data_dir = find_data_dir()
    gpus = tf.config.list_physical_devices("GPU")
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, on {f'{len(gpus)} GPU(s)' if gpus else 'the CPU'}.")
    hint = runtime_hint()
    if hint:
        print(hint)
    print(f"Profile '{profile.name}', chosen because {profile_choice()[1]}: {profile.description}.")
    changed = overridden()
    if changed:
        print(f"Changed by the environment: {', '.join(changed)}.")
    if training.mixed_precision():
        print("Mixed precision: float16 arithmetic on the GPU, float32 outputs and losses.")
    repeatable = ("deterministic ops, so a rerun on this machine gives the same numbers" if deterministic
                  else "deterministic ops are off on a GPU, so reruns differ slightly")
    print(f"Seed {profile.seed}: {repeatable}.")
    if profile.name != "fast" and data_dir == SAMPLE_DIR:
        print("Warning: this profile is meant for the whole data set, but LGG_DATA_DIR is not set, so the "
              "bundled sample is used and its numbers are not results.")
    if chapter:
        took = chapter_time(chapter, profile.name) or f"not measured in the '{profile.name}' profile yet"
        print(f"Time this chapter takes: {took}. Where it trains a model, the training estimates its own time on "
              "this machine after its first steps.")
    display(profile_table(profile, data_dir))
    return profile, data_dir


def setup_course(chapter=None):
    """``setup``, then the profile's slices and their split by patient: returns the profile, slices and split. On a
    GPU profile, shows each model's estimated training time on a Colab T4."""
    profile, data_dir = setup(chapter)
    slices, split = course_data(profile, data_dir)
    if profile.name in ("class", "full"):
        display(t4_table(profile, len(split_rows(slices, split, "train"))))
    return profile, slices, split


def t4_table(profile, images):
    """Each model's estimated minutes of training on a Colab T4 (``benchmark.t4_minutes``) at most, in the profile."""
    minutes = {name: benchmark.t4_minutes(training.build(name, profile), images, training.max_epochs(recipe, profile))
               for name, recipe in training.RECIPES.items()}
    return pd.Series(minutes, name="T4 minutes, at most").rename_axis("model").to_frame().style.format("{:.0f}").set_caption(
        f"Estimated from FLOPs: {images} training images, the profile's epochs, {benchmark.T4_FLOPS / 1e12:.0f} TFLOP/s")


def layer_table(model):
    """The model's layers grouped into blocks (by name prefix): layers, output shape and parameters."""
    rows = {}
    for layer in model.layers:
        block = rows.setdefault(layer.name.split("_")[0], {"layers": 0, "output shape": "", "parameters": 0})
        block["layers"] += 1
        block["output shape"] = str(tuple(layer.output.shape[1:]))
        block["parameters"] += layer.count_params()
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("block")
    table.loc["total"] = [table.layers.sum(), "", model.count_params()]
    return table


def check(claim, value, bar, above=True):
    """Assert that ``value`` is above (``above``) or below ``bar``, print both with the margin, and append
    them to the JSON-lines file ``LGG_CHECK_LOG`` names, if set (``make test-seeds`` collects them)."""
    value, bar = float(value), float(bar)
    margin = value - bar if above else bar - value
    print(f"Check: {claim}: {value:.3f}, bar {'>' if above else '<'} {bar:.3f}, margin {margin:+.3f}.")
    if os.environ.get("LGG_CHECK_LOG"):
        with open(os.environ["LGG_CHECK_LOG"], "a") as log:
            log.write(json.dumps({"claim": claim, "value": value, "bar": bar, "above": above}) + "\n")
    assert margin > 0, f"{claim}: {value:.3f} is not {'above' if above else 'below'} {bar:.3f}"


def train(name, slices, split, profile):
    """Show model ``name``'s training recipe, train it (or load it while its fingerprint matches:
    ``training.train_model``) and say which. Returns the model and history."""
    display(training.recipe_table(name))
    model, history, trained = training.train_model(name, slices, split, profile)
    print(f"{'Trained' if trained else 'Loaded'}: {len(history)} epochs; kept epoch "
          f"{training.kept_epoch(name, history, profile)}.")
    return model, history


CHAPTER_OF = {"classifier": 2, "unet": 3, "resunet": 4, "vgg19_unet": 5}  # the chapter that trains each model


def chapter_models(slices, split, profile):
    """The models of chapters 2 to 5 and their histories: each loaded where its chapter saved it (and it is
    current), else trained here, saying so (in Colab, mount Drive so that trained models outlive the session)."""
    models = {}
    for name in training.RECIPES:
        model, history, trained = training.train_model(name, slices, split, profile)
        models[name] = model, history
        how = f"trained here (chapter {CHAPTER_OF.get(name, '2 to 5')} had not saved it for this profile and code)"
        print(f"{name}: {how if trained else 'loaded'}, {len(history)} epochs.")
    return models


def show_curves(name, history, profile, val_rows):
    """Plot model ``name``'s loss and metric per epoch, the kept epoch marked, and the validation metric of a model
    that never finds a tumour (``scoring.silent_dice`` of ``val_rows``). One figure: the cell's only rich
    output, so a figure caption fits it; the training cell also shows the recipe and a progress bar."""
    plotting.training_curves(history, training.RECIPES[name].metric, training.kept_epoch(name, history, profile),
                             title=f"{name}, profile {profile.name}", silent=scoring.silent_dice(val_rows))
    plt.show()


def check_learning(name, model, history, rows, profile, gain=0.25, volumes=None, label=None, recipe=None):
    """The checks every segmenter passes: its lowest training loss is at least 5% below the first epoch's, and
    on the tumour slices of ``rows`` (held-out patients) its mean Dice beats the same network before training
    (the weights training started from, built by ``recipe``, default its own, with the trained model's input
    channels) by ``gain``. Displays both Dice means. ``volumes``: the model takes intensities prepared per volume;
    ``label`` names it in the checks (default ``name``)."""
    label, recipe = label or name, recipe or training.RECIPES[name]
    untrained = training.build(name, profile, training.pretrained(recipe, profile), recipe, model.input_shape[-1])
    learning = pd.DataFrame({state: scoring.slice_means(scoring.slice_scores(
        rows, *scoring.predict(m, rows, volumes=volumes))).dice for state, m in {"untrained": untrained, "trained": model}.items()})
    display(learning.style.format("{:.3f}").set_caption(f"Dice of {label} untrained and trained, held-out patients"))
    check(f"{label}: lowest training loss / first epoch's", history.loss.min() / history.loss.iloc[0], 0.95, above=False)
    check(f"{label}: validation tumour-slice Dice, trained minus untrained",
          learning.loc["tumour slices", "trained"] - learning.loc["tumour slices", "untrained"], gain)


def show_predictions(model, rows):
    """A grid of slices from ``rows`` (tumour slices small to large, two without tumour) with the true and
    predicted masks and each slice's Dice."""
    truth, probabilities = scoring.predict(model, rows)
    images, _ = pipeline.load_arrays(rows, model.input_shape[1])
    plotting.prediction_grid(images, truth, probabilities, scoring.slice_scores(rows, truth, probabilities),
                             suptitle=f"{model.name} on test slices")
    plt.show()


def save_scores(name, model, slices, split, profile, predictions=None):
    """Score ``model`` on the validation and test patients (``training.score_splits``, reusing a classifier's
    ``predictions``), save the scores beside it (``metrics.json``, for the evaluation chapter and the app), and
    show them beside the study's (in the ``fast`` profile, saying that they come from one or two patients)."""
    caveat = (": one or two patients of the bundled sample, so they show that the code works, not how good the "
              "model is" if profile.name == "fast" else "")
    return scoring.study_table(name, training.score_and_save(name, model, slices, split, profile, predictions)).style.format("{:.3f}", na_rep="").set_caption(
        f"{model.name}: our validation and test scores (profile {profile.name}{caveat}) and the study's")


def per_class_table(truth, predicted, caption):
    """``scoring.per_class`` (precision, recall, F1 and support of each class) as a rendered table."""
    return scoring.per_class(truth, predicted).style.format("{:.3f}", na_rep="").format("{:.0f}", subset="support") \
        .set_caption(caption)
