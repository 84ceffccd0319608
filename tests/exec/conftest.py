"""Fixtures for the worker tests: a throw-away PostgreSQL database per test module and a worker
of each backend (``worker``, parametrized over duckdb and postgres).

The PostgreSQL server is expected at 127.0.0.1:5432 (user postgres, trust authentication). If it
cannot be reached the PostgreSQL tests fail with a message saying so; they are never skipped.
"""

import uuid

import pytest

from qserv.exec.backends import open_worker

BACKENDS = ("duckdb", "postgres")


@pytest.fixture(scope="module")
def pg_dsn(new_postgres_database):
    """DSN of a database created for this test module (dropped at the end of the session)."""
    return new_postgres_database()


@pytest.fixture(params=BACKENDS)
def worker(request, tmp_path):
    """A fresh worker of each backend (PostgreSQL ones share the module's database)."""
    name = f"w-{request.param}"
    if request.param == "duckdb":
        opened = open_worker(name, "duckdb", tmp_path / f"{name}.duckdb")
    else:
        opened = open_worker(name, "postgres", request.getfixturevalue("pg_dsn"))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def table():
    """A physical table name unique to the test."""
    return f"testdb__t{uuid.uuid4().hex[:12]}"
