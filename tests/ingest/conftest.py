"""Instances for ingest tests: 4 embedded DuckDB workers, or 4 PostgreSQL worker databases on
the local server (required: the tests fail, not skip, when it is unreachable)."""

import uuid

import psycopg2
import pytest

import qserv
from qserv.instance import init_instance

PG_SERVER = "host=127.0.0.1 port=5432 user=postgres"


def admin_connection():
    try:
        connection = psycopg2.connect(PG_SERVER + " dbname=postgres")
    except psycopg2.OperationalError as exc:
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is required for the PostgreSQL backend tests: {exc}")
    connection.autocommit = True
    return connection


@pytest.fixture(scope="module")
def postgres_worker_dsns():
    connection = admin_connection()
    names = [f"qserv_test_{uuid.uuid4().hex[:20]}_w{i}" for i in range(1, 5)]
    for name in names:
        connection.cursor().execute(f'CREATE DATABASE "{name}"')
    yield [f"{PG_SERVER} dbname={name}" for name in names]
    for name in names:
        connection.cursor().execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        connection.cursor().execute(f'DROP DATABASE IF EXISTS "{name}"')
    connection.close()


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def home(request, tmp_path_factory):
    """An instance home with 4 workers of the parametrised backend."""
    path = tmp_path_factory.mktemp(f"home-{request.param}")
    if request.param == "postgres":
        init_instance(path, backend="postgres", worker_dsns=request.getfixturevalue("postgres_worker_dsns"))
    else:
        init_instance(path, workers=4)
    return path


@pytest.fixture
def engine(home):
    with qserv.open(home) as opened:
        yield opened


@pytest.fixture
def database_name():
    return f"db_{uuid.uuid4().hex[:12]}"
