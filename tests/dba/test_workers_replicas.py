"""Workers and replicas on both backends: every operation keeps queries exact (against an
unsharded DuckDB), and bad requests change nothing."""

import pytest
from sqlalchemy import select

import qserv
from qserv.errors import UserError
from qserv.meta.models import Database, Replica
from qserv.storage import physical_table_name

from .conftest import check_queries


def placement(engine):
    with engine.store.session() as session:
        version = session.scalar(select(Database.placement_version).where(Database.name == "sky"))
        rows = session.execute(select(Replica.chunk, Replica.worker_id)).all()
    held = {}
    for chunk, worker in rows:
        held.setdefault(chunk, set()).add(worker)
    return version, held


def by_name(engine):
    return {w.name: w for w in engine.list_workers()}


def stored_rows(engine, worker_name, table="Object"):
    """Rows (own and overlap, any chunk) of ``table`` stored on a worker."""
    from qserv.meta.workers import get_worker

    with engine.store.session() as session:
        row = get_worker(session, worker_name)
    return engine.pool.get(row).query(
        f'SELECT count(*) AS n FROM "{physical_table_name("sky", table)}"').column(0)[0].as_py()


def test_drain_add_rebalance_replicate_remove_keep_answers_exact(home, reference, backend, new_postgres_database):
    with qserv.open(home) as engine:
        assert check_queries(engine, reference) == []
        before = by_name(engine)
        assert sum(w.chunks for w in before.values()) == len(placement(engine)[1])
        assert all(w.state == "active" and w.error is None and w.bytes > 0 for w in before.values())

        version, _ = placement(engine)
        assert engine.drain_worker("worker1") == before["worker1"].chunks
        assert check_queries(engine, reference) == []
        drained = by_name(engine)["worker1"]
        assert (drained.state, drained.chunks, drained.rows) == ("drained", 0, 0)
        assert stored_rows(engine, "worker1", "Source") == 0  # old copies deleted
        assert placement(engine)[0] > version

        dsn = new_postgres_database() if backend == "postgres" else None
        engine.add_worker("worker4", backend, dsn)
        assert by_name(engine)["worker4"].state == "active"
        assert check_queries(engine, reference) == []  # the replicated table was copied to it
        moved = engine.rebalance("sky")
        assert moved > 0 and by_name(engine)["worker4"].chunks > 0
        assert check_queries(engine, reference) == []
        assert engine.rebalance("sky") == 0  # balanced: nothing more to move

        engine.replicate("sky", 2)
        _, held = placement(engine)
        assert all(len(workers) == 2 for workers in held.values())
        assert check_queries(engine, reference) == []
        assert engine.verify("sky").problems == []

        engine.set_worker_state("worker2", "disabled")  # the other replicas answer
        assert check_queries(engine, reference) == []
        engine.set_worker_state("worker2", "active")

        engine.replicate("sky", 1)
        assert all(len(workers) == 1 for workers in placement(engine)[1].values())
        assert check_queries(engine, reference) == []
        total = sum(stored_rows(engine, name, "Source") for name in ("worker2", "worker3", "worker4"))
        assert total == 8000  # dropped replicas' rows deleted: each source row stored once

        engine.remove_worker("worker1")
        assert "worker1" not in by_name(engine)
        engine.add_worker("worker1", backend, new_postgres_database() if backend == "postgres" else None)
        assert by_name(engine)["worker1"].chunks == 0
        assert check_queries(engine, reference) == []


def test_bad_requests_are_user_errors_and_change_nothing(home, backend):
    with qserv.open(home) as engine:
        state = (placement(engine), [(w.name, w.state, w.chunks) for w in engine.list_workers()])
        attempts = [
            (lambda: engine.drain_worker("nope"), "no worker 'nope'"),
            (lambda: engine.set_worker_state("nope", "disabled"), "no worker 'nope'"),
            (lambda: engine.remove_worker("worker1"), "only replica"),
            (lambda: engine.replicate("sky", 0), "between 1 and the number of active workers"),
            (lambda: engine.replicate("sky", 4), "between 1 and the number of active workers"),
            (lambda: engine.replicate("nosuch", 2), "no database 'nosuch'"),
            (lambda: engine.rebalance("nosuch"), "no database 'nosuch'"),
            (lambda: engine.verify("nosuch"), "no database 'nosuch'"),
            (lambda: engine.add_worker("worker2"), "already exists"),
            (lambda: engine.add_worker("bad name"), "invalid worker name"),
            (lambda: engine.add_worker("pg", "postgres",
                                       "host=127.0.0.1 port=1 user=postgres dbname=x connect_timeout=2"),
             "cannot use the new worker"),
            (lambda: engine.add_worker("pg", "postgres", None), "needs --dsn"),
        ]
        for attempt, message in attempts:
            with pytest.raises(UserError, match=message):
                attempt()
        assert state == (placement(engine), [(w.name, w.state, w.chunks) for w in engine.list_workers()])


def test_verify_finds_and_repairs_missing_and_differing_replicas(home, reference):
    with qserv.open(home) as engine:
        engine.replicate("sky", 3)
        assert engine.verify("sky").problems == []
        workers = {w.name: w for w in engine.list_workers()}
        from qserv.meta.workers import get_worker

        with engine.store.session() as session:
            two, three = get_worker(session, "worker2"), get_worker(session, "worker3")
        chunks = sorted(placement(engine)[1])
        object_table = physical_table_name("sky", "Object")
        source_table = physical_table_name("sky", "Source")
        engine.pool.get(two).delete_where(object_table, f"_qserv_chunk = {chunks[0]}")
        engine.pool.get(two).delete_where(source_table, f"_qserv_chunk = {chunks[0]}")
        engine.pool.get(three).execute(
            f'UPDATE "{object_table}" SET mag = mag + 1 WHERE _qserv_chunk = {chunks[1]} AND mag IS NOT NULL')
        report = engine.verify("sky")
        found = sorted((p.chunk, p.worker, p.status) for p in report.problems)
        assert found == [(chunks[0], "worker2", "missing"), (chunks[1], "worker3", "differs")]
        assert report.chunks == len(chunks) and report.replicas == 3 * len(chunks)
        repaired = engine.verify("sky", repair=True)
        assert all(p.repaired for p in repaired.problems) and len(repaired.problems) == 2
        assert engine.verify("sky").problems == []
        for name in workers:  # each replica alone answers exactly
            others = [n for n in workers if n != name]
            for other in others:
                engine.set_worker_state(other, "disabled")
            assert check_queries(engine, reference) == [], name
            for other in others:
                engine.set_worker_state(other, "active")
            # a query with all workers active: the catalog fingerprint counts active workers, so
            # two sets of one active worker in a row would look alike to it (see the report)
            engine.query("SELECT COUNT(*) FROM sky.Object")
