"""Shared fixtures. PostgreSQL must be reachable at 127.0.0.1:5432 (user postgres, trust auth):
the PostgreSQL backend tests fail, never skip, when it is not."""

import uuid

import psycopg2
import pytest

PG_SERVER = "host=127.0.0.1 port=5432 user=postgres connect_timeout=10"


@pytest.fixture(scope="session")
def new_postgres_database():
    """A factory: each call creates a uniquely named database and returns its DSN; all of them
    are dropped at the end of the session."""
    try:
        admin = psycopg2.connect(f"{PG_SERVER} dbname=postgres")
    except psycopg2.OperationalError as exc:
        pytest.fail(f"PostgreSQL at 127.0.0.1:5432 is required for the PostgreSQL tests: {exc}")
    admin.autocommit = True
    created = []

    def create():
        name = f"qserv_test_{uuid.uuid4().hex}"
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return f"{PG_SERVER} dbname={name}"

    yield create
    with admin.cursor() as cursor:
        for name in created:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture(scope="session")
def new_instance(new_postgres_database):
    """A factory: ``new_instance(home, backend, workers)`` initialises an instance at ``home`` with
    ``workers`` DuckDB workers, or as many PostgreSQL workers each in a new database."""
    from qserv.instance import init_instance

    def create(home, backend, workers):
        if backend == "postgres":
            return init_instance(home, backend="postgres",
                                 worker_dsns=[new_postgres_database() for _ in range(workers)])
        return init_instance(home, workers=workers)

    return create
