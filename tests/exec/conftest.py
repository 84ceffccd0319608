"""Fixtures for the worker tests: a throw-away PostgreSQL database per test module and a worker
of each backend (``worker``, parametrized over duckdb and postgres).

The PostgreSQL server is expected at 127.0.0.1:5432 (user postgres, trust authentication). If it
cannot be reached the PostgreSQL tests fail with a message saying so; they are never skipped.
"""

import uuid

import psycopg2
import pytest

from qserv.exec.workers import open_worker

ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=10"
BACKENDS = ("duckdb", "postgres")


def _admin():
    try:
        connection = psycopg2.connect(ADMIN_DSN)
    except psycopg2.OperationalError as exc:
        pytest.fail(f"PostgreSQL server needed by the worker tests is unreachable ({ADMIN_DSN}): {exc}")
    connection.autocommit = True
    return connection


@pytest.fixture(scope="module")
def pg_dsn():
    """DSN of a database created for this test module and dropped after it."""
    name = f"qserv_test_{uuid.uuid4().hex}"
    admin = _admin()
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"host=127.0.0.1 port=5432 user=postgres dbname={name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


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
