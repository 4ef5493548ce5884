# Two commands on a fresh machine (Python 3.11, venv + pip; see README):
#   make demo   set up .venv and run the main job on the bundled demo data -> reports/
#   make test   set up .venv and run the tests
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.cxroi-installed

.PHONY: demo test app bench lint clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/cxroi demo

test: $(STAMP)
	$(BIN)/ruff check cxroi tests benchmarks
	$(BIN)/pytest --cov=cxroi --cov-report=term:skip-covered

app: $(STAMP)
	$(BIN)/cxroi app

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check cxroi tests benchmarks

clean:
	rm -rf $(VENV) reports/*.html runs/
