# Two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv when missing and (re)install the package only when
# pyproject.toml or constraints.txt changed since the last install.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.sigver-installed

.PHONY: demo test install clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest

demo: $(STAMP)
	@echo "The end-to-end demo has not landed yet; running the furthest path that exists:"
	@echo "preprocessing the golden scans of ../shared into a dataset store (demo-out/)."
	@mkdir -p demo-out
	$(BIN)/python -c "import glob, numpy as np; \
	from skimage.io import imread; \
	from sigver.preprocessing.normalize import preprocess_signature; \
	from sigver.datasets.util import save_dataset, load_dataset; \
	files = sorted(glob.glob('../shared/golden/*.png')); \
	x = np.stack([preprocess_signature(imread(f), (952, 1360), input_size=None)[None] for f in files]); \
	save_dataset('demo-out/golden.npz', x, np.arange(len(files)), np.zeros(len(files), int), list(range(len(files))), files); \
	print('wrote demo-out/golden.npz:', load_dataset('demo-out/golden.npz')[0].shape)"

clean:
	rm -rf $(VENV) build src/*.egg-info
