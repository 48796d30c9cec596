# Unlock atlas — the two commands a newcomer needs:
#   make demo   set up, simulate the demo cohort on real GRCh38, run the workflow
#   make test   set up and run the whole test suite (fast + slow end-to-end)

PYTHON  ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
CORES   ?= 2
SEED    ?= 1
DEMO    ?= demo

.PHONY: demo test test-fast install system-deps lint clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

system-deps:
	bash scripts/system-deps.sh

# --cache: reuse the simulation cached outside the repository for this seed and simulator code
# (docs/testing.md); the first run on a machine simulates (~2-3 min on 2 cores)
$(DEMO)/.simulated: $(VENV)/.installed
	$(BIN)/unlock-atlas simulate --out $(DEMO) --seed $(SEED) --cohort demo --threads $(CORES) --cache
	touch $@

demo: $(DEMO)/.simulated
	$(BIN)/snakemake -s Snakefile --directory $(DEMO) --configfile $(DEMO)/config/config.yaml \
		--cores $(CORES) --rerun-incomplete
	@echo ""
	@echo "Demo done. Atlas:  $(DEMO)/results/atlas/  (load: python -c \"import unlock_atlas; print(unlock_atlas.load_atlas('$(DEMO)/results'))\")"
	@echo "Truth tables of the simulated cohort: $(DEMO)/truth/"

# both print their slowest tests and each tier's wall time (scripts/run-tests.sh, docs/testing.md)
test: install system-deps
	bash scripts/run-tests.sh all

test-fast: install
	bash scripts/run-tests.sh fast

lint: install
	$(BIN)/snakemake --lint --directory $(DEMO) --configfile config/config.yaml -n

clean:
	rm -rf $(DEMO) .snakemake
