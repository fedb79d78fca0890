# Two entry points for a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: demo test bench env browser clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first: the machine's local CPU wheel satisfies the pin, so no CUDA packages are pulled.
	$(BIN)/pip install --quiet "torch==2.13.0" || $(BIN)/pip install --quiet "torch>=2.4,<2.14"
	# test = pytest + every reader and interop extra + docs; mlflow (tracking client) for the MLflow test
	$(BIN)/pip install --quiet -e ".[test,onnx,ray,mlflow]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

env: $(STAMP)

# The report test drives a real headless browser; install Debian's chromium where we can (root), else it skips.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "chromium not installed: the browser test will skip"; }

demo: $(STAMP)
	$(BIN)/myoflow reproduce all --quick --out runs/demo

test: $(STAMP) browser
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=15

bench: $(STAMP)
	$(BIN)/pip install --quiet -e ".[bench,ray]"
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) runs .pytest_cache
