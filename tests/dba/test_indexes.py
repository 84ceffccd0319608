"""`qserv index create|drop` on both backends: the index is on every worker's table (also one
added later, and after moves), answers stay equal to the unsharded reference, bad input is a
user error."""

import pytest

import qserv
from qserv.chunk_indexes import index_name, worker_indexes
from qserv.errors import NotFoundError
from qserv.meta import workers as registry
from qserv.storage import physical_table_name

from .conftest import check_queries


def workers_with(engine, table, column):
    with engine.store.session() as session:
        rows = registry.listed_workers(session)
    name = index_name(physical_table_name("sky", table), column)
    return {w.name for w in rows if name in worker_indexes(engine.pool.get(w))}


def test_index_on_every_replica(home, reference, backend, new_postgres_database):
    with qserv.open(home) as engine:
        every = {w.name for w in engine.list_workers()}
        assert engine.indexes("sky.Object") == {}
        assert set(engine.create_index("sky.Object", "MAG")) == every  # the column's own spelling is used
        assert set(engine.create_index("sky.Source", "objectId")) == every
        assert set(engine.create_index("sky.Object", "mag")) == every  # again: nothing changes
        assert workers_with(engine, "Object", "mag") == every == workers_with(engine, "Source", "objectId")
        assert {c: set(w) for c, w in engine.indexes("sky.Object").items()} == {"mag": every}
        assert check_queries(engine, reference) == []
        engine.replicate("sky", 2)
        dsn = new_postgres_database() if backend == "postgres" else None
        engine.add_worker("worker4", backend, dsn)
        engine.rebalance("sky")
        every = every | {"worker4"}
        assert workers_with(engine, "Object", "mag") == every  # the new worker got it
        assert check_queries(engine, reference) == []
        engine.drop_index("sky.Object", "mag")
        assert workers_with(engine, "Object", "mag") == set() and engine.indexes("sky.Object") == {}
        assert check_queries(engine, reference) == []


def test_index_bad_input(home):
    with qserv.open(home) as engine:
        with pytest.raises(NotFoundError, match="no column 'nope'"):
            engine.create_index("sky.Object", "nope")
        with pytest.raises(NotFoundError, match="no index on sky.Object.mag"):
            engine.drop_index("sky.Object", "mag")
        with pytest.raises(NotFoundError):
            engine.create_index("sky.Nope", "mag")
        assert engine.indexes("sky.Object") == {}
