# The two commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test bench lint docs clean check-cupy

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.demo-deps: pyproject.toml | $(PY)
	$(PIP) install -e '.[datasets]'
	touch $@

$(VENV)/.test-deps: pyproject.toml | $(PY)
	$(PIP) install -e '.[test]'
	touch $@

# Two system programs some tests use: Debian's chromium (the playground's browser tests, through
# Selenium) and Graphviz's dot (rendering computation graphs). As root on Debian the first
# `make test` installs them (and then requires them); elsewhere those tests skip and say what to install.
SYSTEM_PACKAGES := chromium chromium-driver graphviz

$(VENV)/.system-deps: | $(PY)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null && command -v dot >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get -qq update >/dev/null 2>&1 && \
	    apt-get -qq install -y $(SYSTEM_PACKAGES) >/dev/null 2>&1; } || \
	  echo "note: could not install $(SYSTEM_PACKAGES); the tests that need them will skip"
	@touch $@

demo: $(VENV)/.demo-deps
	$(PY) -m ember demo

# The suite runs one test process per core; one BLAS thread each keeps them from oversubscribing
# the cores (OpenBLAS threads that wait for a busy core make small products 50x slower).
# Where the packages were installed above, a test that misses one fails instead of skipping.
REQUIRE_SYSTEM := $(shell [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && echo 1)

# Then the tests that run on the GPU device run again on the strict stand-in for CuPy
# (tests/strict_xp.py: no implicit host conversion, wrapping indices, counted synchronisations).
STRICT_DEVICE_TESTS := tests/devices tests/optim tests/serialization/test_api.py tests/train/test_trainer.py \
	tests/test_backend.py tests/test_top_level.py tests/test_random_api.py

test: $(VENV)/.test-deps $(VENV)/.system-deps
	EMBER_REQUIRE_SYSTEM_PACKAGES=$(REQUIRE_SYSTEM) OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
	  $(PY) -m pytest -n auto -m "not slow" tests
	EMBER_TEST_DEVICE=strict OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
	  $(PY) -m pytest -n auto -q -m "not slow" $(STRICT_DEVICE_TESTS)

test-slow: $(VENV)/.test-deps
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(PY) -m pytest -n auto -m slow tests

bench: $(VENV)/.test-deps
	$(PY) benchmarks/mlp.py

# Every array-module name and ufunc method ember calls exists in CuPy (no GPU needed). Not part of
# `make test`: the CuPy wheel is large.
check-cupy: $(VENV)/.demo-deps
	$(PIP) install 'cupy-cuda12x>=13'
	$(PY) scripts/check_cupy.py

docs: $(VENV)/.test-deps
	$(PY) -m mkdocs build --strict

lint: $(VENV)/.test-deps
	$(PIP) install ruff
	$(VENV)/bin/ruff check src tests benchmarks examples

clean:
	rm -rf $(VENV) runs site build dist src/*.egg-info .pytest_cache
