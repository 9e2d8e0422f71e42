# Two commands do everything: `make demo` and `make test`. Both set themselves up from the lock file.
PYTHON ?= python3
VENV   := .venv
BOOT   := .uv-bootstrap
UV     := $(BOOT)/bin/uv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.synced

.PHONY: demo test test-fast bench bench-forecast docs ui setup clean

setup: $(STAMP)

# uv is bootstrapped with the interpreter's own pip into a private folder, then installs the exact
# versions pinned in uv.lock (--frozen: the lock is never re-resolved on a user's machine). Then the
# empty Prefect and MLflow databases are made once (flows/templates.py): each new store is a copy.
$(STAMP): pyproject.toml uv.lock
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "seqflow needs Python >= 3.11"'
	@test -x $(UV) || { $(PYTHON) -m venv $(BOOT) && $(BOOT)/bin/pip install --quiet --disable-pip-version-check "uv==0.13.9"; }
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	$(PY) -m flows.templates
	@touch $(STAMP)

# The sine (all five cells), a real series (US alcohol sales, last 12 months held out: sales.toml),
# then word embeddings on the shipped text8 prefix (data/text8-prefix.gz).
demo: $(STAMP)
	$(VENV)/bin/seqflow run demo
	$(VENV)/bin/seqflow run forecast --config flows/configs/sales.toml
	$(VENV)/bin/seqflow run embed
	$(VENV)/bin/seqflow run lesson --config flows/configs/lesson_demo.toml

# The suite runs on TEST_WORKERS processes (pytest-xdist), whole test files to one worker (their
# fixtures train once): much of it waits on servers and subprocesses, so two overlap on two cores.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow"

bench: $(STAMP)
	$(VENV)/bin/seqflow bench

bench-forecast: $(STAMP)
	$(VENV)/bin/seqflow bench forecast

# docs/cli.md: every command's --help and every flow's settings, from the CLI itself (a test checks it).
docs: $(STAMP)
	$(PY) -m flows.cli.reference docs/cli.md

ui: $(STAMP)
	$(VENV)/bin/seqflow ui

clean:
	rm -rf artifacts/intermediates artifacts/models artifacts/mlflow artifacts/prefect artifacts/bench
