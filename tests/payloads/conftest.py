"""APDB fixtures: ``new_apdb(backend, settings)`` makes an instance with an APDB (closed at the end
of the test); ``apdb_data`` builds test rows (module apdb_data.py)."""

import importlib.util
from pathlib import Path

import pytest

import qserv


@pytest.fixture(scope="session")
def apdb_data():
    spec = importlib.util.spec_from_file_location("apdb_data", Path(__file__).with_name("apdb_data.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def new_apdb(tmp_path_factory, new_instance):
    from qserv.payloads.apdb import Apdb

    engines = []

    def create(backend, settings=None, workers=2):
        home = tmp_path_factory.mktemp("apdb-home")
        new_instance(home, backend, workers)
        engine = qserv.open(home)
        engines.append(engine)
        return Apdb.create(engine, "apdb", settings)

    yield create
    for engine in engines:
        engine.close()
