"""Run profiles: one place that says how big, how long and on which data each run is.

``fast`` runs on two CPU cores in minutes on the bundled sample (CI and the default build),
``laptop`` uses the whole data set at reduced size on a CPU, ``class`` the whole data set on a GPU in about
ten minutes a model (a free Colab T4; the default where a GPU is visible), ``full`` the study's settings on
a GPU. Pick one with ``LGG_PROFILE``; override single settings with the variables in ``OVERRIDES``.
"""
import dataclasses
import os
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Profile:
    """The settings of one run profile."""

    name: str
    description: str
    image_size: int  # slices are resized to image_size x image_size
    width: float  # multiplier on the study's channel counts (1.0 = the paper's widths)
    epochs: int  # upper bound; early stopping usually ends training sooner
    batch_size: int
    patients: int | None  # patients used (None = every patient in the data folder)
    patience: int  # epochs without validation gain before early stopping
    seed: int = 42
    split_seed: int | None = None  # the seed that splits the patients (None: ``seed``)

    @property
    def patient_seed(self):
        """The seed of the patient split (and of the patients chosen with ``patients``)."""
        return self.seed if self.split_seed is None else self.split_seed


PROFILES = {
    "fast": Profile("fast", "CPU, minutes, bundled sample (CI and the default build)",
                    image_size=64, width=0.125, epochs=40, batch_size=16, patients=None, patience=10,
                    split_seed=42),  # the sample's 7 patients: one held-out split for every seed (make test-seeds)
    "laptop": Profile("laptop", "CPU, the whole data set at reduced size and width",
                      image_size=128, width=0.25, epochs=30, batch_size=16, patients=None, patience=8),
    "class": Profile("class", "GPU in class (a free Colab T4), the whole data set, about ten minutes a model",
                     image_size=192, width=0.5, epochs=40, batch_size=32, patients=None, patience=10),
    "full": Profile("full", "GPU, the study's settings (256x256, full widths, long training)",
                    image_size=256, width=1.0, epochs=200, batch_size=16, patients=None, patience=20),
}

DRIVE = Path("/content/drive/MyDrive")  # where Colab mounts Google Drive (``google.colab.drive.mount``)

# Environment variable -> Profile field it overrides.
OVERRIDES = {
    "LGG_IMAGE_SIZE": "image_size",
    "LGG_WIDTH": "width",
    "LGG_EPOCHS": "epochs",
    "LGG_BATCH_SIZE": "batch_size",
    "LGG_PATIENTS": "patients",
    "LGG_PATIENCE": "patience",
    "LGG_SEED": "seed",
    "LGG_SPLIT_SEED": "split_seed",
}


def in_colab():
    """True inside Google Colab (online, so ImageNet weights and the data set may be downloaded)."""
    return "google.colab" in sys.modules


def gpu_available():
    """True when TensorFlow sees a GPU."""
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def profile_choice(env=None):
    """The active profile's name and why it was chosen: ``LGG_PROFILE``, else ``class`` with a GPU and ``fast``
    without."""
    env = os.environ if env is None else env
    name = env.get("LGG_PROFILE", "").strip().lower()
    if not name:
        if gpu_available():
            return "class", "a GPU is visible (LGG_PROFILE=full gives the study's settings)"
        return "fast", "no GPU is visible (LGG_PROFILE=laptop trains on the whole data set on this CPU)"
    if name not in PROFILES:
        raise ValueError(f"LGG_PROFILE={name!r} is not a profile: use one of {', '.join(PROFILES)}.")
    return name, f"LGG_PROFILE={name}"


def runtime_hint():
    """In Colab without a GPU, the line that says how to get one; else None."""
    if in_colab() and not gpu_available():
        return ("Colab: this runtime has no GPU. For the whole data set choose Runtime > Change runtime type > T4 GPU, "
                "then run the chapter again.")
    return None


def profile_name(env=None):
    """The active profile's name (``profile_choice``)."""
    return profile_choice(env)[0]


def _parse(variable, field, text):
    """Convert one override's text to the type of the field it overrides."""
    kind = float if field == "width" else int
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"{variable}={text!r} is not a number: expected a positive {kind.__name__}.") from None
    if value <= 0:
        raise ValueError(f"{variable}={text!r} must be positive.")
    return value


def overridden(env=None):
    """The settings the environment overrides (``OVERRIDES``), each as 'setting value (VARIABLE)'."""
    env = os.environ if env is None else env
    return [f"{field} {env[var].strip()} ({var})" for var, field in OVERRIDES.items() if env.get(var)]


def get_profile(name=None, env=None):
    """The named (or active) profile with any ``LGG_*`` overrides from the environment applied."""
    env = os.environ if env is None else env
    name = name or profile_name(env)
    if name not in PROFILES:
        raise ValueError(f"{name!r} is not a profile: use one of {', '.join(PROFILES)}.")
    changes = {field: _parse(var, field, env[var]) for var, field in OVERRIDES.items() if env.get(var)}
    return dataclasses.replace(PROFILES[name], **changes)


def project_root(start=None):
    """The course checkout holding ``_toc.yml`` above ``start`` (default: the working directory), or None."""
    start = Path(start or Path.cwd()).resolve()
    return next((p for p in (start, *start.parents) if (p / "_toc.yml").is_file()), None)


def colab_drive():
    """The course's folder on Google Drive (``DRIVE/lgg-course``) when running in Colab with Drive mounted, else None."""
    return DRIVE / "lgg-course" if in_colab() and DRIVE.is_dir() else None


def artifacts_root(env=None):
    """Where every profile's artifacts live: ``LGG_ARTIFACTS_DIR``, else on Google Drive in Colab when it is
    mounted (so models outlive the runtime), else ``artifacts/`` in the checkout."""
    env = os.environ if env is None else env
    if env.get("LGG_ARTIFACTS_DIR"):
        return Path(env["LGG_ARTIFACTS_DIR"])
    drive = colab_drive()
    return drive / "artifacts" if drive else (project_root() or Path.cwd()) / "artifacts"


def artifacts_dir(profile, env=None):
    """Where a profile's splits, models and metrics live, one folder per seed and split:
    ``<artifacts root>/<profile>/seed-<seed>``, with ``-split-<split seed>`` where the two differ."""
    split = "" if profile.patient_seed == profile.seed else f"-split-{profile.patient_seed}"
    return artifacts_root(env) / profile.name / f"seed-{profile.seed}{split}"
