"""Run every chapter once per seed and tabulate each check's value, bar and margin (``make test-seeds``).

Each seed trains its own models (artifacts under ``--out``) in the active profile, and every ``check`` cell
appends its value and bar to that seed's log. The table says, per check, the value for each seed, the bar,
and the smallest margin: a check whose smallest margin is near zero fails on some machine or seed.

    python tests/seed_checks.py [--seeds 42 1 2 3 4] [--out seed-checks] [--notebooks book/chapters/08_recipe.ipynb ...]
"""
import argparse
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def run_chapters(seed, folder, notebooks=("book/chapters",)):
    """Run the chapters (``notebooks``: files or folders) under nbval with ``LGG_SEED=seed``; return the check log
    and the failed cells."""
    folder.mkdir(parents=True, exist_ok=True)
    log, junit = folder / "checks.jsonl", folder / "junit.xml"
    log.unlink(missing_ok=True)
    env = {**os.environ, "LGG_SEED": str(seed), "LGG_ARTIFACTS_DIR": str(folder / "artifacts"),
           "LGG_CHECK_LOG": str(log)}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", *notebooks, "--nbval-lax", "--nbval-current-env",
                    "--nbval-cell-timeout=3600", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}"],
                   cwd=ROOT, env=env, check=False)
    minutes = (time.perf_counter() - start) / 60
    failed = [f"{case.get('classname').split('.')[-2]} {case.get('name')}" for case in ET.parse(junit).iter("testcase")
              if case.find("failure") is not None or case.find("error") is not None]
    checks = pd.read_json(log, lines=True) if log.is_file() else pd.DataFrame(columns=["claim", "value", "bar", "above"])
    return checks.assign(seed=seed), failed, minutes, saved_scores(folder / "artifacts")


def saved_scores(artifacts):
    """Test scores the model chapters saved (``metrics.json``), shown beside the checks but not checked."""
    scores = {}
    for path in sorted(artifacts.glob("*/seed-*/*/metrics.json")):
        test = json.loads(path.read_text())["test"]
        name = path.parent.name
        if "auc" in test:
            scores.update({f"{name}: test AUC": test["auc"], f"{name}: test accuracy": test["accuracy"]})
        else:
            scores[f"{name}: test tumour-slice Dice"] = test["dice"]["tumour slices"]
    return pd.Series(scores, dtype=float)


def seed_table(checks):
    """One row per check: its value for each seed, the bar (a range where it depends on the seed's split),
    and the smallest margin over the seeds."""
    checks = checks.assign(margin=np.where(checks.above.astype(bool), checks.value - checks.bar, checks.bar - checks.value))
    values = checks.pivot_table(index="claim", columns="seed", values="value", sort=False).round(3)
    grouped = checks.groupby("claim", sort=False)
    bar = grouped.apply(lambda g: f"{'>' if g.above.iloc[0] else '<'} " + (
        f"{g.bar.iloc[0]:.3f}" if np.ptp(g.bar) < 1e-9 else f"{g.bar.min():.3f}-{g.bar.max():.3f}"))
    return values.assign(bar=bar, **{"smallest margin": grouped.margin.min().round(3),
                                      "seeds passed": grouped.margin.apply(lambda m: f"{(m > 0).sum()}/{len(m)}")})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2, 3, 4])
    parser.add_argument("--out", type=Path, default=ROOT / "seed-checks")
    parser.add_argument("--notebooks", nargs="+", default=["book/chapters"], help="notebooks or folders (default: every chapter)")
    args = parser.parse_args(argv)
    runs = [run_chapters(seed, args.out / f"seed-{seed}", args.notebooks) for seed in args.seeds]
    table = seed_table(pd.concat([checks for checks, *_ in runs], ignore_index=True))
    scores = pd.DataFrame({seed: scores for seed, (*_, scores) in zip(args.seeds, runs)}).round(3)
    summary = pd.DataFrame({"minutes": [round(m, 1) for _, _, m, _ in runs],
                            "failed cells": [", ".join(f) or "none" for _, f, _, _ in runs]}, index=args.seeds)
    report = "\n\n".join([table.to_markdown(), scores.rename_axis("saved score (not checked)").to_markdown(),
                           summary.rename_axis("seed").to_markdown()]) + "\n"
    (args.out / "seed_checks.md").write_text(report)
    print(report)
    return int(any(failed for _, failed, _, _ in runs))


if __name__ == "__main__":
    sys.exit(main())
