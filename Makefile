# The two commands a newcomer needs (see README.md):
#   make demo   set up and analyse the bundled example site
#   make test   set up what the tests need and run them (what CI runs)

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-deps lint bench clean nodered fuzz

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	@echo "== acm analyze --model flows/site/site.yaml"
	@$(BIN)/acm analyze --model flows/site/site.yaml; code=$$?; \
	  echo "(exit code $$code: 0 clean, 1 conflicts found, 2 bad input)"; test $$code -le 1

lint: $(STAMP)
	$(BIN)/ruff check acm tests benchmarks
	$(BIN)/mypy
	$(BIN)/mypy --allow-untyped-defs --allow-incomplete-defs --allow-untyped-calls \
	  --no-warn-return-any tests
	$(BIN)/lint-imports
	$(BIN)/python scripts/complexity.py acm

nodered:
	scripts/install-nodered.sh

# Debian's mosquitto and chromium (apt, only if missing) and Playwright for Python
test-deps: $(STAMP) nodered
	scripts/apt-install.sh mosquitto:/usr/sbin/mosquitto chromium:/usr/bin/chromium
	scripts/install-browser.sh

test: lint test-deps
	node --test tests/js/ nodered-bridge/test/
	ACM_RESOLVER_NODE=native node --test tests/js/
	$(BIN)/pytest -q

# The fuzz suite of make test, twenty times the examples, from a fresh seed that it
# prints (FUZZ_SEED=N repeats a run; see README.md, "Fuzzing")
fuzz: $(STAMP)
	@seed=$${FUZZ_SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}; \
	  echo "== fuzz seed $$seed (make fuzz FUZZ_SEED=$$seed repeats this run)"; \
	  ACM_FUZZ=long $(BIN)/pytest -q -p no:cacheprovider tests/test_fuzz.py \
	    --hypothesis-seed=$$seed

# One run of every benchmark (start-up, editor click, scaling, resolvers); the
# figures go to benchmarks/out/bench.md and, by benchmarks/readme.py, into README.md
# (Performance). The resolvers' section runs even when a target of the first is
# missed; the exit status says whether every target was met.
bench: $(STAMP)
	@mkdir -p benchmarks/out
	@$(BIN)/python benchmarks/run.py > benchmarks/out/bench.md.part; status=$$?; \
	  $(BIN)/python benchmarks/resolvers.py >> benchmarks/out/bench.md.part || status=1; \
	  mv benchmarks/out/bench.md.part benchmarks/out/bench.md; cat benchmarks/out/bench.md; \
	  $(BIN)/python benchmarks/readme.py || status=2; exit $$status

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
