"""Chapter helpers: the set-up every chapter runs first, showing the package's own source, and checks."""
import inspect
import json
import os

import keras
import pandas as pd
import tensorflow as tf
from IPython.display import Code, display

from .config import artifacts_dir, get_profile, in_colab
from .plotting import use_style
from .data import SAMPLE_DIR, download_kaggle, find_data_dir
from .training import reproducible


def show_source(obj):
    """Display the source of a function, class or module of ``lgg_utils`` with syntax highlighting."""
    display(Code(inspect.getsource(obj), language="python"))


def profile_table(profile, data_dir):
    """The profile's settings, the data folder and the artifacts folder as a one-column table."""
    settings = {field: getattr(profile, field) for field in profile.__dataclass_fields__}
    settings["patients"] = settings["patients"] or "all"
    settings.update(data=str(data_dir), artifacts=str(artifacts_dir(profile)))
    return pd.DataFrame({"value": [str(v) for v in settings.values()]}, index=pd.Index(settings, name="setting"))


def setup():
    """Seed everything, apply the figure style, find the data (downloading it in Colab for big profiles), print
    the devices and the profile.

    Returns the profile and the data folder.
    """
    profile = get_profile()
    deterministic = reproducible(profile.seed)
    use_style()
    tf.get_logger().setLevel("ERROR")  # no retracing warnings when several models predict in turn
    if in_colab() and profile.name != "fast" and not os.environ.get("LGG_DATA_DIR"):
        download_kaggle()
    data_dir = find_data_dir()
    gpus = tf.config.list_physical_devices("GPU")
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, on {f'{len(gpus)} GPU(s)' if gpus else 'the CPU'}.")
    print(f"Profile '{profile.name}': {profile.description}.")
    repeatable = ("deterministic ops, so a rerun on this machine gives the same numbers" if deterministic
                  else "deterministic ops are off on a GPU, so reruns differ slightly")
    print(f"Seed {profile.seed}: {repeatable}.")
    if profile.name != "fast" and data_dir == SAMPLE_DIR:
        print("Warning: this profile is meant for the whole data set, but LGG_DATA_DIR is not set, so the "
              "bundled sample is used and its numbers are not results.")
    display(profile_table(profile, data_dir))
    return profile, data_dir


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
