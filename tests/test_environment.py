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


def test_colabs_preinstalled_tensorflow_is_in_the_claimed_range_so_the_set_up_cell_leaves_it():
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    claimed = next(Requirement(dep) for dep in project["dependencies"] if dep.startswith("tensorflow"))
    colab = [Requirement(line) for line in (ROOT / "tests/colab_versions.txt").read_text().splitlines()
             if line and not line.startswith("#")]
    tensorflow = next(req for req in colab if req.name == "tensorflow")
    version = str(tensorflow.specifier).removeprefix("==").removesuffix(".*") + ".0"
    assert claimed.specifier.contains(version), f"Colab's TensorFlow {version} is outside {claimed}"
