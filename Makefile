# Every target bootstraps .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FLAWS ?=
URL ?=
PROFILE ?=
WORKERS ?= 4
PORT ?= 8000
FAIL_ON ?= medium
PYTEST_ARGS ?=

.PHONY: test lint format audit target efficacy bench soak clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The project's own tests, after lint. The HTML report's browser test needs Debian's chromium.
test: lint
	bash scripts/ensure-chromium.sh
	$(PY) -m pytest $(PYTEST_ARGS)

# All probes against the local target (FLAWS=a,b plants flaws), or URL=... PROFILE=... remotely.
audit: $(STAMP)
	$(PY) -m pytest probes -p no:cacheprovider --report-dir reports --fail-on $(FAIL_ON) \
		$(if $(URL),--base-url $(URL)) $(if $(PROFILE),--target-profile $(PROFILE)) \
		$(if $(FLAWS),--target-flaws $(FLAWS)) --target-workers $(WORKERS) $(PYTEST_ARGS)

efficacy: $(STAMP)
	$(PY) -m tools.efficacy

bench: $(STAMP)
	$(PY) -m tools.bench

# The robustness tests at full size (default runs in make test are scaled to a quarter).
soak: $(STAMP)
	SOAK_SCALE=$${SOAK_SCALE:-1} PROBES_FUZZ_BENCH=1 $(PY) -m pytest tests/robustness \
		tests/probes/test_cors_and_openapi.py -m "soak or slow" -p no:cacheprovider $(PYTEST_ARGS)

target: $(STAMP)
	JWT_SECRET=$${JWT_SECRET:-$$($(PY) -c "import secrets; print(secrets.token_hex(32))")} \
		$(PY) -m target_app --port $(PORT) --workers $(WORKERS) $(if $(FLAWS),--flaws $(FLAWS))

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
