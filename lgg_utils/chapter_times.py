"""How long each chapter takes: the book's notebooks run in order, as ``make book`` runs them, in the active
profile and from a fresh artifacts folder (so every model is trained, as on a first run), each one timed.

    python -m lgg_utils.chapter_times [--out FILE]   # default: the table shipped with the package (TIMES)

The table keeps one row per chapter and profile (a new measurement replaces the profile's old rows); each
chapter's set-up prints its own row (``notebook.setup``).
"""
import argparse
import datetime
import os
import platform
import tempfile
import time
from pathlib import Path
from unittest import mock

import pandas as pd
from tqdm.auto import tqdm

from .config import get_profile, project_root

TIMES = Path(__file__).parent / "results" / "chapter_times.csv"
COLUMNS = ["chapter", "profile", "seconds", "machine", "measured"]


def duration(seconds):
    """A duration in words: '40 s', '12 min', '2 h 30 min'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 90 else f"{minutes // 60} h {minutes % 60:02d} min"


def machine():
    """The CPU model and core count (or the platform where the model is not readable), and any GPU."""
    import tensorflow as tf

    try:
        name = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name"))
    except (OSError, StopIteration):
        name = platform.processor() or platform.machine()
    gpus = [tf.config.experimental.get_device_details(gpu).get("device_name", "GPU")
            for gpu in tf.config.list_physical_devices("GPU")]
    return ", ".join([f"{os.cpu_count()} cores, {name}", *gpus])


def book_notebooks(root):
    """The notebooks of the table of contents, in its order."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files = [entry["file"] for part in toc["parts"] for chapter in part["chapters"]
             for entry in [chapter, *chapter.get("sections", [])]]
    return [root / f"{name}.ipynb" for name in files if (root / f"{name}.ipynb").is_file()]


def run_notebook(path, timeout=3600):
    """Execute a notebook in its own folder (outputs kept in memory only); return its wall-clock seconds."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - start


def measure(root, profile_name):
    """Each notebook's seconds in the active profile, from an empty artifacts folder: a table (``COLUMNS``)."""
    rows, today, host = [], datetime.date.today().isoformat(), machine()
    with tempfile.TemporaryDirectory() as artifacts, mock.patch.dict(os.environ, LGG_ARTIFACTS_DIR=artifacts):
        for path in tqdm(book_notebooks(root), desc="Chapters", unit="notebook"):  # the kernels inherit the folder
            rows.append({"chapter": path.stem, "profile": profile_name, "seconds": round(run_notebook(path), 1),
                         "machine": host, "measured": today})
    return pd.DataFrame(rows, columns=COLUMNS)


def merge(old, new):
    """``old`` without the rows of ``new``'s profiles, then ``new``."""
    return pd.concat([old[~old.profile.isin(new.profile)], new], ignore_index=True)


def read_times(path=TIMES):
    """The saved table (``COLUMNS``), empty where there is none."""
    return pd.read_csv(path) if Path(path).is_file() else pd.DataFrame(columns=COLUMNS)


def chapter_time(chapter, profile, times=None):
    """How long ``chapter`` took in the profile named ``profile``, on which machine and when; None where unmeasured."""
    times = read_times() if times is None else times
    rows = times[(times.chapter == chapter) & (times.profile == profile)]
    return next((f"{duration(row.seconds)} on {row.machine} (measured {row.measured}, from a fresh start: models "
                 "trained, not loaded)" for row in rows.itertuples()), None)


def main(argv=None):
    """Run and time every notebook of the book in the active profile; save the table."""
    parser = argparse.ArgumentParser(prog="python -m lgg_utils.chapter_times", description=main.__doc__)
    parser.add_argument("--out", type=Path, default=TIMES, help=f"CSV file (default: {TIMES})")
    args = parser.parse_args(argv)
    root = project_root(Path(__file__).parent)
    if root is None:
        parser.exit(1, "error: run it from a checkout of the course (it needs _toc.yml and the notebooks).\n")
    table = merge(read_times(args.out), measure(root, get_profile().name))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    print(table.to_string(index=False))
    print(f"Wrote {args.out}.")


if __name__ == "__main__":
    main()
