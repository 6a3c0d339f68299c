# Two commands for a new user: `make demo` and `make test`. Everything else is set up on the way.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SYSSTAMP := $(VENV)/.sysdeps
# Debian packages: napari under Xvfb (no GPU, no display here), then the reports' needs.
DEB_PKGS := xvfb xauth libgl1 libegl1 libgl1-mesa-dri libxkbcommon-x11-0 libxcb-icccm4 libxcb-image0 \
            libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-xinerama0 libxcb-xfixes0 \
            libxcb-shape0 libxcb-cursor0 libdbus-1-3 libfontconfig1 \
            libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
            chromium poppler-utils dicom3tools
# (pango: WeasyPrint's PDF; chromium, poppler-utils, dicom3tools: the report tests render the
#  HTML headless, turn the PDF into PNG pages and validate DICOM SEG/SR with dciodvfy)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: setup sysdeps sample demo test validate fuzz bench screenshots lint docs mutation clean

setup: $(STAMP) $(SYSSTAMP)

# pyradiomics (the IBSI oracle in tests and benchmarks) has no wheel for Python 3.11+ and
# builds only without isolation; 3.0.1 is the newest sdist whose metadata pip accepts.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "lesionview needs Python >= 3.11; found $$($(PYTHON) --version 2>&1). Run: make PYTHON=python3.11 ..."; exit 1; }
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { echo "Installing python3-venv"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3-venv >/dev/null; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m pip install --quiet numpy setuptools wheel versioneer
	$(PY) -m pip install --quiet --no-build-isolation "pyradiomics==3.0.1"
	@touch $@

# Installs only the Debian packages that are missing.
$(SYSSTAMP): Makefile
	@missing=$$(for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages: $$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@mkdir -p $(VENV) && touch $@

sysdeps: $(SYSSTAMP)

# The phantom is deterministic; large files are regenerated here rather than committed.
sample: $(STAMP)
	$(PY) scripts/make_phantom.py --out sample_data --only-missing
	$(PY) -m lesionview.phantom.timeline --out sample_data --only-missing

demo: setup sample
	$(PY) scripts/demo.py

test: setup sample
	$(VENV)/bin/ruff check src plugins tests benchmarks scripts
	xvfb-run -a -s "-screen 0 1280x1024x24" $(PY) -m pytest

# The segmentation run as a user would on the 24 phantoms of the validation family (cervical and
# thoracic; sagittal, axial and oblique; 2-4 mm slices; noise, bias field, rim-enhancing lesions),
# scored against their truth: one table per group (lesionview/phantom/validate.py).
validate: setup
	$(PY) -m lesionview.phantom.validate

# make test fuzzes a few hundred mutants of real files and sends Ctrl-C at 8 moments per command;
# this checks thousands of mutants with other seeds, and Ctrl-C at 30 moments.
fuzz: setup
	LESIONVIEW_FUZZ_CASES=3500 LESIONVIEW_FUZZ_SEEDS=1,2,3 LESIONVIEW_CTRL_C_MOMENTS=30 \
	  $(PY) -m pytest -q tests/test_fuzz.py tests/test_cli_robustness.py -k "fuzz or ctrl_c"

# The docs' pictures of the napari workflow (docs/workflow_*.png), taken by the workflow test.
screenshots: setup sample
	LESIONVIEW_SCREENSHOTS=docs xvfb-run -a -s "-screen 0 1920x1080x24" $(PY) -m pytest -q \
	  tests/test_napari_workflow.py

# Mutation testing (cosmic-ray) of the core modules against their fast tests; slow, not part of
# `make test`. Works in a copy under mutants/; prints the score per module and every survivor.
mutation: setup
	@$(PY) -c 'import cosmic_ray' 2>/dev/null || $(PY) -m pip install --quiet -e ".[mutation]"
	$(PY) scripts/mutation.py

bench: setup
	$(PY) -m benchmarks

# The documentation site (mkdocs, docs/ and the docstrings) into site/; a warning fails the build.
docs: setup
	$(PY) -m mkdocs build --strict -d site

lint: $(STAMP)
	$(VENV)/bin/ruff check src plugins tests benchmarks scripts

clean:
	rm -rf $(VENV) demo_output .pytest_cache
