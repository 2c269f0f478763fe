# Two commands do all the set-up on a fresh machine:
#   make demo   - create .venv, install, inspect a bundled sample model
#   make test   - create .venv, install, run the test suite
# (make test-onnx-only runs the suite again in .venv-onnx, an install without torch: the
#  PyTorch tests skip and everything else must pass there too; CI runs both)
VENV ?= .venv
ONNX_VENV ?= .venv-onnx
PY := $(VENV)/bin/python
# torch is pinned here; the package metadata itself only asks torch>=2.2. Everything comes from
# the package index pip is configured with; TORCH_INDEX=https://download.pytorch.org/whl/cpu
# takes the CPU build from PyTorch's own index instead (PyPI's Linux wheels bring CUDA).
TORCH_PIN ?= torch==2.13.0
TORCH_INDEX ?=
# the full install has every optional integration, so their tests run (they skip without them)
EXTRAS ?= torch,images,dev,hf,dask,lightning,tensorboard

.PHONY: demo test test-onnx-only install clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH_PIN)"
	$(PY) -m pip install -q -e ".[$(EXTRAS)]" "$(TORCH_PIN)"
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	@$(VENV)/bin/saturate inspect sample_models/mlp_sigmoid_badinit.onnx; \
	  code=$$?; echo "exit code $$code (1: findings at or above --fail-on)"; test $$code -le 1

test: $(VENV)/.installed
	$(PY) -m pytest -q -p no:cacheprovider

$(ONNX_VENV)/.installed: pyproject.toml
	python3 -m venv $(ONNX_VENV)
	$(ONNX_VENV)/bin/python -m pip install -q --upgrade pip
	$(ONNX_VENV)/bin/python -m pip install -q -e ".[dev]"
	touch $@

test-onnx-only: $(ONNX_VENV)/.installed
	$(ONNX_VENV)/bin/python -m pytest -q -p no:cacheprovider

clean:
	rm -rf $(VENV) $(ONNX_VENV) .pytest_cache .hypothesis
