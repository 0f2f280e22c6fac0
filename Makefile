# Two commands for a fresh machine: `make demo` and `make test`. Both create .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo lint derivations bench matrix clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[torch,plots,optax,thirdparty,keras,fast,dev]'
	@# timm without its dependencies: timm.optim.radam needs only torch (radam_verify/timm_optim.py)
	$(BIN)/pip install --quiet --no-deps -c constraints.txt timm==1.0.31
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check radam_verify tests frameworks benchmarks reports/repro noxfile.py
	$(BIN)/mypy

# lint, then the main suite, and beside them each framework's adapter tests in its own
# environment (noxfile.py): the framework environments are built (nox --install-only,
# mostly downloads and unpacking) while lint runs on one core, and their tests run in one
# process each (-n 1) while the main suite runs in two, so the machine's idle moments
# (downloads, start-ups, the suite's last tests) are used; their log is shown when the main
# suite is done. A lint failure ends the run there (the background build is stopped).
test: $(STAMP)
	@echo "the framework environments are built and tested in the background (log: $(VENV)/nox.log)"
	@( $(BIN)/nox -s framework --install-only && $(BIN)/nox -R -s framework -- -n 1 ) \
	  > $(VENV)/nox.log 2>&1 & frameworks=$$!; \
	if ! $(MAKE) --no-print-directory lint; then \
	  pkill -P $$frameworks; kill $$frameworks 2>/dev/null; exit 1; fi; \
	$(BIN)/pytest -n 2 --dist worksteal --durations=25; status=$$?; \
	echo "waiting for the framework environments' tests (log: $(VENV)/nox.log)"; \
	wait $$frameworks; framework_status=$$?; cat $(VENV)/nox.log; \
	if [ $$framework_status -ne 0 ]; then \
	  echo "the framework environments' tests failed (log above)"; exit 1; fi; \
	exit $$status

demo: $(STAMP)
	$(BIN)/radam-verify derive
	mkdir -p reports
	$(BIN)/radam-verify derive --markdown > reports/derivation.md
	@echo "wrote reports/derivation.md"
	$(BIN)/radam-verify schedule --beta2 0.999 --steps 7 --digits 12 > reports/schedule-b2-0.999.json
	@echo "wrote reports/schedule-b2-0.999.json"
	$(BIN)/python benchmarks/bench_reference.py
	$(BIN)/radam-verify report --out reports
	@# torch's foreach path deviates (eps = 0 gives NaN): the verdict exits 1, the demo goes on
	-$(BIN)/radam-verify check torch.optim:RAdam --profile quick --report reports/conformance-torch


# the compatibility matrix (reports/matrix/); PROFILE=ci for the quicker run
PROFILE ?= thorough
matrix: $(STAMP)
	$(BIN)/radam-verify matrix --out reports/matrix --profile $(PROFILE) -n 2

derivations: $(STAMP)
	$(BIN)/radam-verify derive --markdown > derivations/radam.md

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_reference.py
	$(BIN)/python benchmarks/bench_verdict.py


clean:
	rm -rf $(VENV) .nox .pytest_cache .mypy_cache .ruff_cache .hypothesis
