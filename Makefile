# The README's two set-up commands: `make demo` and `make test`. Both work from a fresh clone.
PYTHON ?= python3
VENV   ?= .venv
PIP    := $(VENV)/bin/python -m pip
# The runtime extra needs torch; this pins the CPU build so that no multi-GB CUDA wheel is
# ever pulled. Override with e.g. `make TORCH_SPEC='torch==2.5.1' test`.
TORCH_SPEC ?= torch==2.13.0

.PHONY: demo test test-oldest lint venv bench fuzz clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

# The runtime extra, with torch pinned first so that pip never resolves a CUDA build.
$(VENV)/.runtime: $(VENV)/.installed
	$(PIP) install --quiet --disable-pip-version-check '$(TORCH_SPEC)'
	$(PIP) install --quiet --disable-pip-version-check -e '.[dev,runtime,serve,quantize]'
	touch $@

demo: $(VENV)/.runtime
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" PYTHON="$(CURDIR)/$(VENV)/bin/python" bash scripts/demo.sh

# Lint, format and type checks first (seconds), then the suite in two worker processes
# (pytest-xdist): on the 2-core CI machine 13.5 min against 17.5 min in one process.
# `make PYTEST_WORKERS=0 test` runs it in one.
PYTEST_WORKERS ?= 2
test: lint
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS)

# Lint, format and type checks (the config is in pyproject.toml).
lint: $(VENV)/.runtime
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The suite against the oldest versions pyproject.toml allows: every dependency pinned to its
# lower bound (scripts/oldest_pins.py), in a venv of its own. torch is the exception: the
# same CPU build as above (TORCH_SPEC), since older CPU wheels are not always reachable.
OLDEST ?= .venv-oldest
test-oldest:
	rm -rf $(OLDEST)
	$(PYTHON) -m venv $(OLDEST)
	$(PYTHON) scripts/oldest_pins.py runtime serve quantize dev --skip torch > $(OLDEST)/pins.txt
	$(OLDEST)/bin/python -m pip install --quiet --disable-pip-version-check '$(TORCH_SPEC)'
	$(OLDEST)/bin/python -m pip install --quiet --disable-pip-version-check \
		-c $(OLDEST)/pins.txt -e '.[runtime,serve,quantize,dev]'
	$(OLDEST)/bin/python -m pip check
	# The runtime tests skip where peft cannot import: make that an error here instead.
	$(OLDEST)/bin/python -c 'import torch, transformers, peft, fastapi, torchao'
	$(OLDEST)/bin/python -m pytest -q -p no:cacheprovider

# Every fuzz target for HXPM_FUZZ_SECONDS each (default 60; atheris when installed, else
# hypothesis). Crashing inputs land in tests/fuzz/regressions/, which `make test` replays.
fuzz: venv
	$(VENV)/bin/python -m tests.fuzz.run --seconds $${HXPM_FUZZ_SECONDS:-60}

bench: venv
	$(VENV)/bin/python tests/benchmarks/run_all.py

clean:
	rm -rf $(VENV) .demo build *.egg-info
