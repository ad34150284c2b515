# Everyday commands. `make help` lists them. Every target sets up .venv first if needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch and torchvision are pinned to a pair that imports together; override on the command
# line (make setup TORCH="torch torchvision") to take whatever pip picks for your machine.
TORCH ?= torch==2.14.1 torchvision==0.29.1
PYTEST_ARGS ?=
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: help setup lab build check figures offline-data test test-fast grade clean

help:  ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml $(BIN)/python
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

setup: $(VENV)/.installed  ## create .venv with the course, Jupyter, nbgrader and the test tools

# Jupyter refuses to start as root unless told --allow-root. Passed only when you are root (id -u is 0):
# Jupyter, and the code of every notebook it runs, then has root's rights. Fine in a throwaway container,
# not on a shared machine: there, run `make lab` as an ordinary user.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: setup  ## start JupyterLab on the student notebooks (adds --allow-root when run as root, e.g. in a container)
	$(BIN)/jupyter lab $(ALLOW_ROOT) --notebook-dir=. course/01_mnist.ipynb

build: setup  ## regenerate course/, vaecourse/reference/ and the README table from solutions/
	$(BIN)/python -m vaecourse.build

check: setup  ## fail if course/ is stale (someone edited a master without `make build`)
	$(BIN)/python -m vaecourse.build --check

# The reference figures students compare their pictures with (figures/, shown in course/ by the build).
# The first build refreshes vaecourse/reference/ (the figures' code hashes read it), the last one puts
# the new PNGs in course/. With only the offline set in data/, its digits are tiled to 60,000 images.
# One torch thread: on a busy 2-core machine two threads took 3 to 4 times longer per epoch, and one
# thread gives the same PNGs on every run (two runs here were identical to the byte).
FIGURE_ARGS ?= --threads 1
figures: setup  ## remake figures/ and figures/ja/ from the masters 01, 05, 06 in full mode (16 minutes on 2 cores), then build
	$(BIN)/python -m vaecourse.build
	$(BIN)/python -m vaecourse.reference_figures $(FIGURE_ARGS)
	$(BIN)/python -m vaecourse.build

offline-data: setup  ## write the offline MNIST set (5,000 real digits) into data/
	$(BIN)/python -m vaecourse.offline_mnist data

test: setup  ## run every test (offline, about 30 minutes on 2 cores; lists the slowest tests and every skip with its reason)
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=30 -rs $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests"; exit 1; fi; exit $$status

test-fast: setup  ## the unit tests only (no notebook runs, about a minute)
	$(BIN)/python -m pytest -m "not slow and not browser" $(PYTEST_ARGS)

grade: setup  ## grade a class with nbgrader: make grade ARGS="all --zip lms.zip --roster roster.csv --jobs 2" (README: For instructors)
	$(BIN)/python -m vaecourse.grade $(ARGS)

clean:  ## remove caches and build leftovers (keeps .venv and data/)
	rm -rf .pytest_cache build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
