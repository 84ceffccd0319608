# qserv: build, test and benchmark. Every target creates and uses .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: install build test bench demo clean

$(STAMP): pyproject.toml setup.py $(wildcard cython_ext/*.pyx cython_ext/*.pxd)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip "setuptools>=64" wheel "Cython>=3.0" "numpy>=2.0"
	$(PIP) install --quiet --no-build-isolation -e ".[test]"
	touch $(STAMP)

# The peers: lsdb and matplotlib from the bench extra, Q3C for the local PostgreSQL 15 from Debian.
Q3C_CONTROL := /usr/share/postgresql/15/extension/q3c.control
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(BENCH_STAMP): $(STAMP)
	$(PIP) install --quiet --no-build-isolation -e ".[test,bench]"
	test -f $(Q3C_CONTROL) || { $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q postgresql-15-q3c; }
	touch $(BENCH_STAMP)

install: $(STAMP)

# Recompile the Cython kernels in place after editing cython_ext/.
build: $(STAMP)
	$(PY) setup.py --quiet build_ext --inplace

test: $(STAMP)
	$(PY) -m pytest -q

# Load the bundled Gaia DR3 and Hipparcos catalogs into a temporary instance and run example queries.
demo: $(STAMP)
	$(VENV)/bin/qserv demo

# BENCH_ARGS, e.g. "--sizes 1e5,1e6 --only cone,crossmatch" (python -m bench --help).
bench: $(BENCH_STAMP)
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf build dist *.egg-info qserv/_ext/*.so cython_ext/*.c
