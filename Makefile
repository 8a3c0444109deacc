# Two entry points, each sets everything up first:  `make run`  and  `make test`.
PYTHON  ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# Apache Airflow lives in its own environment (its pins clash with ours), used only by the
# test of the example DAG in pipelines/.
AIRFLOW_VENV    ?= .venv-airflow
AIRFLOW_VERSION ?= 3.3.2
AIRFLOW_STAMP   := $(AIRFLOW_VENV)/.installed

.PHONY: run test lint clean

# The semantic extra (paraphrase check on sentence additions) needs PyTorch. Its CPU build is
# installed first and pinned: asked for by range (as sentence-transformers does), pip would
# take a CUDA build of several GB. With it in place, the extra's range installs nothing more.
# (This pin takes the CPU wheel that lies on this kind of machine; elsewhere install a CPU
# build of torch into the venv first.)
TORCH_VERSION ?= 2.13.0

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)"
	$(BIN)/python -m pip install --quiet -e '.[dev,spark,semantic]'
	touch $(STAMP)

$(AIRFLOW_STAMP):
	$(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(AIRFLOW_VENV)/bin/python -m pip install --quiet "apache-airflow==$(AIRFLOW_VERSION)"
	touch $(AIRFLOW_STAMP)

run: $(STAMP)
	$(BIN)/dedup run seeds/ --out out/

test: $(STAMP) $(AIRFLOW_STAMP)
	$(BIN)/ruff check .
	NEWSDEDUP_AIRFLOW_PYTHON=$(CURDIR)/$(AIRFLOW_VENV)/bin/python $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check dedup tests benchmarks pipelines

clean:
	rm -rf $(VENV) $(AIRFLOW_VENV) build *.egg-info
