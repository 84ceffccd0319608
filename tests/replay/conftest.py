"""Fixtures of the replay tests: ``sky`` (module sky.py) and ``sky_home(backend)`` an instance
with the rows of sky.create, 2 workers."""

import importlib.util
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def sky():
    spec = importlib.util.spec_from_file_location("replay_sky", Path(__file__).with_name("sky.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def sky_home(tmp_path_factory, new_instance, sky):
    import qserv

    def create(backend="duckdb", workers=2):
        home = tmp_path_factory.mktemp(f"replay-{backend}")
        new_instance(home, backend, workers)
        with qserv.open(home) as engine:
            sky.create(engine)
        return home

    return create
