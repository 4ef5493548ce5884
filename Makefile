# Two commands on a fresh machine (Python 3.11, venv + pip; see README):
#   make demo   set up .venv and run the main job on the bundled demo data -> reports/
#   make test   set up .venv and run the tests
# Both install the tested, pinned set from requirements.lock; LOCK=0 installs from the
# ranges in pyproject.toml instead (e.g. `make test LOCK=0`).
#   make test-deps  the fast tests again under the lowest and the newest versions that
#                   pyproject.toml allows (two extra venvs in .venv-deps/, built with uv)
#   make lock       re-pin requirements.lock to the newest allowed versions
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
LOCK ?= 1
STAMP := $(VENV)/.cxroi-installed-lock$(LOCK)
DEPS_DIR ?= .venv-deps
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check
#: the fast subset: no browser, no notebook kernels, no batch worker pools
FAST_TESTS ?= -m "not slow and not browser" -k "not readme_demo and not batch_command" \
	--ignore=tests/browser --ignore=tests/test_notebooks.py --ignore=tests/test_batch.py

.PHONY: demo test test-deps lock app bench lint clean

$(STAMP): pyproject.toml requirements.lock
	$(PY) -m venv $(VENV)
ifeq ($(LOCK),0)
	$(PIP) -e ".[test]"
else
	$(PIP) -r requirements.lock
	$(PIP) --no-deps -e .
endif
	rm -f $(VENV)/.cxroi-installed-lock*
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/cxroi demo

test: $(STAMP)
	$(BIN)/ruff check cxroi tests benchmarks
	$(BIN)/pytest --cov=cxroi --cov-report=term:skip-covered

test-deps: $(STAMP)
	@for res in lowest-direct highest; do \
	  start=$$(date +%s); venv=$(DEPS_DIR)/$$res; \
	  echo "test-deps: resolving the $$res set"; \
	  $(BIN)/uv pip compile --quiet pyproject.toml --extra test --resolution $$res \
	    --python $(BIN)/python -o $(DEPS_DIR)/$$res.txt || exit 1; \
	  [ -x $$venv/bin/python ] || $(BIN)/uv venv --quiet --python $(BIN)/python $$venv || exit 1; \
	  $(BIN)/uv pip sync --quiet --python $$venv/bin/python $(DEPS_DIR)/$$res.txt || exit 1; \
	  $(BIN)/uv pip install --quiet --python $$venv/bin/python --no-deps -e . || exit 1; \
	  grep -E '^(numpy|pandas|scipy|pydantic|lifelines|typer)==' $(DEPS_DIR)/$$res.txt | tr '\n' ' '; echo; \
	  $$venv/bin/python -m pytest $(FAST_TESTS) -q -p no:cacheprovider || exit 1; \
	  echo "test-deps: the $$res set passed in $$(( $$(date +%s) - start )) s"; \
	done

lock: $(STAMP)
	$(BIN)/uv pip compile --quiet pyproject.toml --extra test --python $(BIN)/python \
	  --custom-compile-command "make lock" -o requirements.lock

app: $(STAMP)
	$(BIN)/cxroi app

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check cxroi tests benchmarks

clean:
	rm -rf $(VENV) $(DEPS_DIR) reports/*.html runs/
