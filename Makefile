# The README's two commands: `make book` (the executed book, bundled sample) and `make test` (all tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export LGG_PROFILE ?= fast
# The chapters run in their own folder, so data and artifacts paths given relative to the checkout are made absolute.
ifdef LGG_DATA_DIR
export LGG_DATA_DIR := $(abspath $(LGG_DATA_DIR))
endif
ifdef LGG_ARTIFACTS_DIR
export LGG_ARTIFACTS_DIR := $(abspath $(LGG_ARTIFACTS_DIR))
endif
BOOK_FLAGS := --warningiserror --nitpick --keep-going --all
CELL_TIMEOUT ?= 3600  # seconds a notebook cell may run under `make test`: an hour stops a hung kernel in CI
PYTEST_FLAGS := tests book/chapters book/instructors --nbval-lax --nbval-current-env --nbval-cell-timeout=$(CELL_TIMEOUT)

.PHONY: install book test test-seeds test-compat app book-laptop book-full test-full benchmark chapter-times clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,app]"
	touch $(STAMP)

install: $(STAMP)

book: $(STAMP)  ## the executed HTML book in _build/html (LGG_PROFILE, default fast)
	$(BIN)/jupyter-book build . $(BOOK_FLAGS)

test: $(STAMP)  ## unit tests and every chapter through nbval (LGG_PROFILE, default fast)
	$(BIN)/pytest $(PYTEST_FLAGS)

SEEDS ?= 42 1 2 3 4
test-seeds: $(STAMP)  ## every chapter once per seed (SEEDS), each training its own models: every check's value, bar and margin
	$(BIN)/python tests/seed_checks.py --seeds $(SEEDS)

# $(call compat-env,VENV,CONSTRAINTS): the course with its dev extra in VENV under pip constraints, then the unit tests.
define compat-env
	test -x $(1)/bin/python || $(PYTHON) -m venv $(1)
	$(1)/bin/python -m pip install --quiet --upgrade pip
	$(1)/bin/python -m pip install --quiet -c $(2) -e ".[dev]"
	$(1)/bin/python -m pip freeze | grep -i -E "^(tensorflow|keras|numpy|pandas|ipywidgets)=="
	$(1)/bin/pytest tests -q
endef

test-compat: $(STAMP)  ## the unit tests in two more virtual environments: .venv-compat at the oldest versions pyproject.toml claims, .venv-colab at Colab's preinstalled ones (tests/colab_versions.txt); neither has the app's extra (Streamlit needs a newer protobuf than TensorFlow 2.16 allows; its tests skip)
	$(BIN)/python tests/lower_bounds.py > $(VENV)/lower-bounds.txt
	$(call compat-env,.venv-compat,$(VENV)/lower-bounds.txt)
	$(call compat-env,.venv-colab,tests/colab_versions.txt)

app: $(STAMP)  ## the demo web app on http://localhost:8501 (models from artifacts/<profile>; run `make book` first)
	$(BIN)/streamlit run lgg_utils/app.py --browser.gatherUsageStats=false --client.toolbarMode=minimal

book-laptop:  ## the book from the laptop profile on the whole data set (LGG_DATA_DIR), reusing saved models
	$(MAKE) book LGG_PROFILE=laptop

book-full:  ## the book in the study's settings (for a GPU machine, with LGG_DATA_DIR set)
	$(MAKE) book LGG_PROFILE=full

test-full:  ## the tests in the study's settings (for a GPU machine, with LGG_DATA_DIR set); a cell may train for hours (chapter 6: six UNets)
	$(MAKE) test LGG_PROFILE=full CELL_TIMEOUT=86400

chapter-times: $(STAMP)  ## run and time every notebook from a fresh start (LGG_PROFILE); saves lgg_utils/results/chapter_times.csv
	$(BIN)/python -m lgg_utils.chapter_times

benchmark: $(STAMP)  ## input pipeline against a UNet training step, in images per second
	$(BIN)/python -m lgg_utils.benchmark

clean:
	rm -rf _build .pytest_cache
