# The README's two set-up commands: `make demo` and `make test`. Both work from a fresh clone.
PYTHON ?= python3
VENV   ?= .venv
PIP    := $(VENV)/bin/python -m pip
# The runtime extra needs torch; this pins the CPU build so that no multi-GB CUDA wheel is
# ever pulled. Override with e.g. `make TORCH_SPEC='torch==2.5.1' test`.
TORCH_SPEC ?= torch==2.13.0

.PHONY: demo test venv bench fuzz clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

# The runtime extra, with torch pinned first so that pip never resolves a CUDA build.
$(VENV)/.runtime: $(VENV)/.installed
	$(PIP) install --quiet --disable-pip-version-check '$(TORCH_SPEC)'
	$(PIP) install --quiet --disable-pip-version-check -e '.[dev,runtime,serve]'
	touch $@

demo: $(VENV)/.runtime
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" PYTHON="$(CURDIR)/$(VENV)/bin/python" bash scripts/demo.sh

test: $(VENV)/.runtime
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider

# Every fuzz target for HXPM_FUZZ_SECONDS each (default 60; atheris when installed, else
# hypothesis). Crashing inputs land in tests/fuzz/regressions/, which `make test` replays.
fuzz: venv
	$(VENV)/bin/python -m tests.fuzz.run --seconds $${HXPM_FUZZ_SECONDS:-60}

bench: venv
	$(VENV)/bin/python tests/benchmarks/run_all.py

clean:
	rm -rf $(VENV) .demo build *.egg-info
