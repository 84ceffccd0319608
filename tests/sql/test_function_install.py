"""install() writes the worker functions once: a later process that finds the same set (by the
fingerprint VERSION_FUNCTION returns) writes nothing; a changed set is written again."""

import pytest

from qserv.exec.backends import open_worker
from qserv.sql import worker_functions
from qserv.sql.worker_functions import VERSION_FUNCTION, install


@pytest.fixture(params=["duckdb", "postgres"])
def worker(request, tmp_path, new_postgres_database):
    if request.param == "duckdb":
        opened = open_worker("install-duckdb", "duckdb", tmp_path / "w.duckdb")
    else:
        opened = open_worker("install-postgres", "postgres", new_postgres_database())
    yield opened
    opened.close()


def counting(worker, monkeypatch):
    executed = []
    original = worker.execute
    monkeypatch.setattr(worker, "execute", lambda sql: (executed.append(sql), original(sql)))
    return executed


def test_install_writes_only_when_the_functions_differ(worker, monkeypatch):
    executed = counting(worker, monkeypatch)
    install(worker)
    assert len(executed) == len(worker_functions.function_sql(worker.backend)) + 1
    assert worker.query("SELECT scisql_angSep(0, 0, 0, 1) AS d").column("d")[0].as_py() == pytest.approx(1.0)
    executed.clear()
    install(worker)
    assert executed == []
    changed = worker_functions.function_sql(worker.backend)[:-1]  # as if a function were removed
    monkeypatch.setattr(worker_functions, "function_sql", lambda backend: list(changed))
    install(worker)
    assert len(executed) == len(changed) + 1 and VERSION_FUNCTION in executed[-1]
