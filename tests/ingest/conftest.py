"""Instances for ingest tests: 4 embedded DuckDB workers, or 4 PostgreSQL worker databases on
the local server (required: the tests fail, not skip, when it is unreachable)."""

import uuid

import pytest

import qserv
from qserv.instance import init_instance


@pytest.fixture(scope="module")
def postgres_worker_dsns(new_postgres_database):
    return [new_postgres_database() for _ in range(4)]


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
