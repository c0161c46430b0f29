# The two commands a newcomer needs: `make demo` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench mutants lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Every version comes from requirements.lock (CI runs this target through .ci/run): no build takes whatever is newest.
$(STAMP): $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[sandbox,test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/rdsbot demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

unit: $(STAMP)
	$(BIN)/pytest tests/unit

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

# Mutation score of the core rule modules against the fast unit tests ([tool.mutmut] in pyproject.toml); about
# two minutes on two cores. Prints killed / total per module; exits 1 under 90% in any module.
MUTANT_JOBS ?= 2
mutants: $(STAMP)
	rm -rf mutants
	$(BIN)/mutmut run --max-children $(MUTANT_JOBS) > mutmut-run.log 2>&1 || (tail -20 mutmut-run.log; exit 1)
	$(BIN)/mutmut results --all true | $(BIN)/python -m bench.mutation_score

# Re-pin requirements.lock from a clean install of pyproject.toml's dependencies (review the diff, then make test).
LOCK_VENV := /tmp/rdsbot-lock
lock:
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LOCK_VENV)/bin/python -m pip install --quiet '.[sandbox,test]'
	{ grep '^#' requirements.lock; $(LOCK_VENV)/bin/python -m pip freeze --exclude rdsbot; } > requirements.lock.new
	mv requirements.lock.new requirements.lock
	rm -rf $(LOCK_VENV)

clean:
	rm -rf $(VENV) *.egg-info .mypy_cache .ruff_cache mutants mutmut-run.log
