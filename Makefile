# Every target builds its own virtual environment; nothing is installed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_TEST := $(VENV)/.installed-test
STAMP_DEMO := $(VENV)/.installed-demo
STAMP_DOCS := $(VENV)/.installed-docs
STAMP_CORE := $(VENV)/.installed-core
# The core suite: no servers, no browser, nothing beyond the core-test extra.
CORE_TESTS := tests/scenarios tests/test_core.py tests/test_identity.py tests/test_policy.py \
	tests/test_presets.py tests/test_rules.py tests/test_flow_steps.py tests/test_architecture.py \
	tests/security/test_readings.py

STAMP_MATRIX := $(VENV)/.installed-matrix

.PHONY: demo test test-core lint typecheck pytest bench soak docs docs-serve matrix messages verify-example clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_DEMO): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[demo]"
	touch $@

$(STAMP_DOCS): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[docs]"
	touch $@

$(STAMP_CORE): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[core-test]"
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

$(STAMP_MATRIX): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,matrix]"
	touch $@

demo: $(STAMP_DEMO)
	IDLEGUARD_DEV=1 $(BIN)/python -m uvicorn examples.demo:app --host 127.0.0.1 --port 8000

lint: $(STAMP_TEST)
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/ruff format --check src tests examples benchmarks

typecheck: $(STAMP_TEST)
	$(BIN)/mypy

pytest: $(STAMP_TEST)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test: lint typecheck pytest

# The core suite on another interpreter, in a venv of its own:
#   make test-core PYTHON=python3.10 VENV=.venv-3.10
test-core: $(STAMP_CORE)
	$(BIN)/python -m pytest -q -p no:cacheprovider $(CORE_TESTS)

# The site goes to site/; `make test` builds it too (tests/test_docs.py), so CI checks it.
# It needs no server: open site/index.html (pages, links and search work from disk).
docs: $(STAMP_DOCS)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# The message catalogs (docs/messages.md): the strings from the code into the template and
# every language, then compiled. NEW_LANGUAGE=de first starts a catalog for one more language.
LOCALE := src/idleguard/locale
messages: $(STAMP_TEST)
	$(BIN)/pybabel extract --project=idleguard --version=$$($(BIN)/python -c 'import idleguard; print(idleguard.__version__)') \
		--copyright-holder="idleguard developers" --msgid-bugs-address=https://github.com/idleguard/idleguard/issues \
		--add-location=file -c TRANSLATORS: --no-wrap -o $(LOCALE)/idleguard.pot src/idleguard
	$(if $(NEW_LANGUAGE),$(BIN)/pybabel init -i $(LOCALE)/idleguard.pot -d $(LOCALE) -D idleguard --no-wrap -l $(NEW_LANGUAGE))
	$(BIN)/pybabel update -i $(LOCALE)/idleguard.pot -d $(LOCALE) -D idleguard --no-wrap
	$(BIN)/pybabel compile -d $(LOCALE) -D idleguard --statistics

# The site on http://127.0.0.1:8000, rebuilt on every change to docs/ or a docstring.
docs-serve: $(STAMP_DOCS)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --strict --dev-addr 127.0.0.1:8000 --watch src

# The whole suite in one run (about 10 minutes); BENCH_QUICK=1 for a fast pass.
bench: $(STAMP_TEST)
	$(BIN)/python -m benchmarks.run

# A 60-second soak: uvicorn with two workers and Redis on 127.0.0.1 (docs/reliability.md).
# SOAK_ARGS="--seconds 600 --users 200" for a longer one.
soak: $(STAMP_TEST)
	$(BIN)/python -m tests.reliability.soak $(SOAK_ARGS)

# Every cell of the compatibility matrix (docs/compatibility.md): each server started once,
# the scenario client run against it. `make test` runs only the quick cells.
matrix: $(STAMP_MATRIX)
	@start=$$(date +%s); \
	IDLEGUARD_MATRIX=full $(BIN)/python -m pytest -m matrix tests/matrix $(PYTEST_ARGS); \
	status=$$?; \
	echo "matrix: whole run took $$(( $$(date +%s) - start )) s"; \
	exit $$status

# The example evidence report in the docs (docs/verify-example.md and its HTML twin), written
# again from a run of `idleguard verify` against the demo; `make test` fails when they part.
verify-example: $(STAMP_TEST)
	WRITE_EXAMPLES=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/verify/test_example_report.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
