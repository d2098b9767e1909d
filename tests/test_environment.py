"""environment.yml (conda users) and pyproject.toml (pip users) install the same packages."""
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_environment_yml_lists_pyprojects_dependencies_and_dev_and_app_extras():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["dev"] + project["optional-dependencies"]["app"]
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    pip = next(item["pip"] for item in conda if isinstance(item, dict))
    assert sorted(p.replace(" ", "") for p in pip if p != "-e .") == sorted(p.replace(" ", "") for p in wanted)
    assert "-e ." in pip


def test_jupyter_book_is_pinned_below_2():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(dep.startswith("jupyter-book") and "<2" in dep for dep in project["optional-dependencies"]["dev"])
