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
PYTEST_ARGS ?=

.PHONY: test lint format audit target efficacy bench clean

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

test: lint
	$(PY) -m pytest $(PYTEST_ARGS)

audit: $(STAMP)
	@if [ -d probes ] && ls probes/test_*.py >/dev/null 2>&1; then \
		$(PY) -m pytest probes -p no:cacheprovider \
			$(if $(URL),--base-url $(URL)) $(if $(PROFILE),--target-profile $(PROFILE)) \
			$(if $(FLAWS),--target-flaws $(FLAWS)) --target-workers $(WORKERS) $(PYTEST_ARGS); \
	else echo "no probes yet"; fi

target: $(STAMP)
	JWT_SECRET=$${JWT_SECRET:-$$($(PY) -c "import secrets; print(secrets.token_hex(32))")} \
		$(PY) -m target_app --port $(PORT) --workers $(WORKERS) $(if $(FLAWS),--flaws $(FLAWS))

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
