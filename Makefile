# Two entry points: `make run` opens the app, `make test` runs every check.
# Both create the virtual environment in .venv on first use.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BUNDLE_STAMP := $(VENV)/.installed-bundle

.PHONY: run test lint typecheck pytest bench bundle bundle-test clean

run: $(STAMP)
	$(BIN)/audio-converter

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest $(PYTEST_ARGS)

# Rewrites the results in docs/benchmarks.md; takes 20 to 40 minutes.
# BENCH_ARGS="--quick --output /tmp/bench.md" runs the smoke check instead.
bench: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m bench $(BENCH_ARGS)

# The desktop app as one folder, dist/audio-converter/, built by PyInstaller
# from packaging/audio-converter.spec; prints the bundle's size at the end.
bundle: $(BUNDLE_STAMP)
	$(BIN)/pyinstaller --noconfirm --clean --distpath dist --workpath build \
		packaging/audio-converter.spec
	$(BIN)/python packaging/bundle_size.py dist/audio-converter

# Builds the bundle in a temporary folder, then runs its self-test and starts
# its window (tests marked `bundle`, which the default run leaves out).
bundle-test: $(BUNDLE_STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest -m bundle tests/packaging $(PYTEST_ARGS)

$(BUNDLE_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bundle]'
	touch $(BUNDLE_STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Audio Converter needs Python 3.11 or newer; set PYTHON=python3.X"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
