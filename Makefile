# qserv: build, test and benchmark. Every target creates and uses .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
# Every install is pinned by this file (all extras and the build tools resolved together), so a new
# release upstream changes nothing until `make lock` is run and its result committed. The package
# itself keeps version ranges (pyproject.toml).
CONSTRAINTS := requirements/constraints.txt

.PHONY: install build test bench demo lock clean

$(STAMP): pyproject.toml setup.py $(CONSTRAINTS) $(wildcard cython_ext/*.pyx cython_ext/*.pxd)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet -c $(CONSTRAINTS) pip setuptools wheel Cython numpy
	$(PIP) install --quiet --no-build-isolation -c $(CONSTRAINTS) -e ".[test]"
	touch $(STAMP)

# Re-resolve every dependency to its newest allowed release (then run `make test` and commit).
lock: $(STAMP)
	$(PIP) install --quiet -c $(CONSTRAINTS) uv
	$(VENV)/bin/uv pip compile --quiet --upgrade --all-extras --python-version 3.11 \
		pyproject.toml requirements/build.in -o $(CONSTRAINTS)

# The peers: lsdb and matplotlib from the bench extra, Q3C for the local PostgreSQL 15 from Debian.
Q3C_CONTROL := /usr/share/postgresql/15/extension/q3c.control
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(BENCH_STAMP): $(STAMP)
	$(PIP) install --quiet --no-build-isolation -c $(CONSTRAINTS) -e ".[test,bench]"
	test -f $(Q3C_CONTROL) || { $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q postgresql-15-q3c; }
	touch $(BENCH_STAMP)

install: $(STAMP)

# Recompile the Cython kernels in place after editing cython_ext/.
build: $(STAMP)
	$(PY) setup.py --quiet build_ext --inplace

# The web console's end-to-end tests drive Debian's chromium through chromium-driver (nothing downloads
# a browser at run time).
test: $(STAMP)
	command -v chromedriver >/dev/null || { $(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium chromium-driver; }
	$(PY) -m pytest -q

# Load the bundled Gaia DR3 and Hipparcos catalogs into a temporary instance and run example queries.
demo: $(STAMP)
	$(VENV)/bin/qserv demo

# BENCH_ARGS, e.g. "--sizes 1e5,1e6 --only cone,crossmatch" (python -m bench --help).
bench: $(BENCH_STAMP)
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf build dist *.egg-info qserv/_ext/*.so cython_ext/*.c
