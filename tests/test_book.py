"""The book's structure: notebooks without outputs, in the table of contents, with badges and set-up."""
import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

from lgg_utils import config

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book" / "chapters").glob("*.ipynb"))
SOLUTIONS = ROOT / "book" / "instructors" / "solutions.ipynb"
NOTEBOOKS = CHAPTERS + [SOLUTIONS]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())


def toc_files():
    """Every file the table of contents names."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{path.name}: strip outputs"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_is_in_the_toc_and_opens_in_colab(path):
    relative = path.relative_to(ROOT).as_posix()
    assert relative[: -len(".ipynb")] in toc_files()
    repo = CONFIG["repository"]["url"].removeprefix("https://github.com/")
    badge = f"https://colab.research.google.com/github/{repo}/blob/{CONFIG['repository']['branch']}/{relative}"
    nb = nbformat.read(path, as_version=4)
    assert badge in nb.cells[0].source, f"{path.name}: the first cell needs the Colab badge {badge}"


def package_version():
    """The version pyproject.toml gives the course package."""
    return re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), flags=re.M).group(1)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_sets_itself_up_and_prints_the_profile_first(path):
    nb = nbformat.read(path, as_version=4)
    first_code = next(cell.source for cell in nb.cells if cell.cell_type == "code")
    assert '"google.colab" in sys.modules' in first_code and CONFIG["repository"]["url"] in first_code
    assert f'setup("{path.stem}")' in first_code or f'setup_course("{path.stem}")' in first_code


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_colab_installs_the_pinned_release_without_the_app(path):
    first_code = next(cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code")
    installs = re.findall(r"%pip install (.*)", first_code)
    assert installs == [f'-q "lgg-course[colab] @ git+{CONFIG["repository"]["url"]}@v{package_version()}"'], installs
    assert 'drive.mount("/content/drive")' in first_code  # offered, commented out: the student chooses


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_imports_only_what_colab_installs(path):
    """Colab installs the package with its colab extra, not the book's tools (the dev extra): a notebook importing
    one of those (myst-nb, pytest) stops there."""
    from importlib.metadata import packages_distributions
    from IPython.core.inputtransformer2 import TransformerManager
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    installed = {canonicalize_name(Requirement(dep).name)
                 for dep in project["dependencies"] + project["optional-dependencies"]["colab"]}
    cells = [cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
    bodies = [source.partition("\n")[2] if source.startswith("%%") else source for source in cells]  # a cell magic's code
    nodes = [node for body in bodies for node in ast.walk(ast.parse(TransformerManager().transform_cell(body)))]
    imported = ({alias.name for node in nodes if isinstance(node, ast.Import) for alias in node.names}
                | {node.module for node in nodes if isinstance(node, ast.ImportFrom) and node.level == 0})
    modules = {name.split(".")[0] for name in imported} - set(sys.stdlib_module_names) - {"lgg_utils"}
    distributions = packages_distributions()
    missing = {module for module in modules
               if not installed & {canonicalize_name(d) for d in distributions.get(module, [])}}
    assert not missing, f"{path.name} imports {sorted(missing)}, which Colab does not install"


def test_the_package_says_the_version_pyproject_gives():
    import lgg_utils

    assert lgg_utils.__version__ == package_version()


def test_every_toc_entry_exists():
    for name in toc_files():
        assert any((ROOT / f"{name}{suffix}").is_file() for suffix in (".md", ".ipynb")), name


def test_intro_profile_table_matches_the_profiles():
    rows = re.findall(r"^\| (fast|laptop|class|full) \|.*\| (\d+) \| ([\d.]+) \| (\d+) \| (\d+) \| (\d+) \|$",
                      (ROOT / "book" / "intro.md").read_text(), flags=re.M)
    assert len(rows) == len(config.PROFILES)
    for name, size, width, epochs, batch, patience in rows:
        profile = config.PROFILES[name]
        assert (int(size), float(width), int(epochs), int(batch), int(patience)) == (
            profile.image_size, profile.width, profile.epochs, profile.batch_size, profile.patience), name


def test_intro_documents_every_override():
    intro = (ROOT / "book" / "intro.md").read_text()
    for variable in [*config.OVERRIDES, "LGG_PROFILE", "LGG_DATA_DIR", "LGG_ARTIFACTS_DIR"]:
        assert f"`{variable}`" in intro, variable


def test_make_gives_the_chapters_absolute_data_and_artifacts_paths():  # the chapters run in book/chapters
    show = "show: ; @echo $$LGG_DATA_DIR $$LGG_ARTIFACTS_DIR"
    env = {**os.environ, "LGG_DATA_DIR": "../shared/lgg", "LGG_ARTIFACTS_DIR": "saved"}
    shown = subprocess.run(["make", "-s", "--no-print-directory", "--eval", show, "show"], cwd=ROOT, env=env,
                           capture_output=True, text=True, check=True).stdout.split()
    assert shown == [str(ROOT.parent / "shared" / "lgg"), str(ROOT / "saved")]


def test_readme_says_how_many_chapter_cells_assert():
    cells = [cell.source for path in CHAPTERS for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
    asserting = [s for s in cells if re.search(r"\bassert\b|\bcheck(_learning)?\(", s) and not s.startswith("show_source")]
    assert f"{len(asserting)} asserting cells (of {len(cells)} code cells)" in (ROOT / "README.md").read_text().replace("\n", " ")


@pytest.mark.parametrize("path", CHAPTERS + sorted((ROOT / "book").rglob("*.md")), ids=lambda p: p.name)
def test_text_has_no_control_characters(path):
    texts = ([cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "markdown"]
             if path.suffix == ".ipynb" else [path.read_text()])
    for text in texts:
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text), f"{path.name}: a control character in {text[:60]!r}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_opens_with_learning_objectives(path):
    assert "**By the end of this chapter you can**" in nbformat.read(path, as_version=4).cells[0].source


def test_every_citation_is_in_the_bibliography():
    bib = set(re.findall(r"^@\w+\{(\w+),", (ROOT / "book" / "references.bib").read_text(), flags=re.M))
    texts = [cell.source for path in CHAPTERS for cell in nbformat.read(path, as_version=4).cells]
    texts += [path.read_text() for path in (ROOT / "book").glob("*.md")]
    cited = {key for text in texts for keys in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", text) for key in keys.split(",")}
    assert cited and cited <= bib, cited - bib


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_asks_concept_questions_that_the_instructors_pages_answer(path):
    text = "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "markdown")
    section = text.split("## Concept questions", 1)[1].split("\n## ", 1)[0]
    questions = re.findall(r"^(\d+)\. ", section, flags=re.M)
    answers_page = ROOT / "book" / "instructors" / f"answers_{path.name[:2]}.md"
    answers = re.findall(r"^(\d+)\. \*\*", answers_page.read_text(), flags=re.M)
    assert len(questions) >= 8 and questions == answers, (questions, answers)
    assert f"book/instructors/answers_{path.name[:2]}" in (ROOT / "_toc.yml").read_text()


def exercises(path):
    """A chapter's exercises: number -> text."""
    text = "\n".join(cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "markdown")
    section = text.split("## Exercises", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^(\d+)\. (.*?)(?=^\d+\. |\Z)", section, flags=re.M | re.S))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_every_exercise_says_what_to_expect_and_the_solutions_carry_out_its_check(path):
    found = exercises(path)
    assert len(found) >= 3 and all("*Expected:*" in text for text in found.values()), path.name
    headings = [cell.source for cell in nbformat.read(SOLUTIONS, as_version=4).cells if cell.cell_type == "markdown"]
    solved = {number for text in headings
              for numbers in re.findall(rf"^## Chapter {int(path.name[:2])}, exercises? ([\d and,]+):", text, flags=re.M)
              for number in re.findall(r"\d+", numbers)}
    assert solved == {number for number, text in found.items() if "*Check:*" in text}, (path.name, solved)
    assert "book/instructors/solutions" in (ROOT / "_toc.yml").read_text()
