.PHONY: run test bench install lint format

run:  ## start Seedbed (installs what is missing on first use)
	@bash config/scripts/run.sh

install:  ## virtualenv, system packages and the embedded model, nothing started
	@bash config/scripts/bootstrap.sh --test

test:  ## every check: ruff, mypy, migrations, check --deploy, pytest (real PostgreSQL/Redis)
	@bash config/scripts/test.sh $(ARGS)

bench:  ## benchmarks in tests/benchmarks
	@bash config/scripts/bench.sh $(ARGS)

format:
	@.venv/bin/ruff format . && .venv/bin/ruff check --fix .
