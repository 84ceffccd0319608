"""Fixtures of the SQL layer's tests: a fresh DuckDB or PostgreSQL worker (parametrised)."""

import pytest

from qserv.exec.backends import open_worker


@pytest.fixture(scope="module")
def pg_dsn(new_postgres_database):
    return new_postgres_database()


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def sql_worker(request, tmp_path_factory):
    """A new empty worker of each backend, closed after the module's tests."""
    if request.param == "duckdb":
        opened = open_worker("sql-duckdb", "duckdb", tmp_path_factory.mktemp("sql") / "w.duckdb")
    else:
        opened = open_worker("sql-postgres", "postgres", request.getfixturevalue("pg_dsn"))
    yield opened
    opened.close()
