"""A process killed at each step of a chunk move, an added and a dropped replica: the next open
finishes or undoes the change, every chunk stays readable, and no row is lost or left behind."""

import os
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import select

import qserv
from qserv.faults import CRASH_EXIT_CODE, FAULT_ENV
from qserv.meta.models import Database, Move, Replica, Worker
from qserv.storage import physical_table_name

from .conftest import OBJECTS, SOURCES, check_queries, load

SCRIPT = textwrap.dedent("""
    import sys
    import qserv
    home, kind, database_id, chunk, source, target = sys.argv[1:7]
    with qserv.open(home) as engine:
        if kind == "drop":
            engine.mover.drop(int(database_id), int(chunk), int(source))
        else:
            getattr(engine.mover, kind)(int(database_id), int(chunk), int(source), int(target))
""")
# (kind, crash point, whether the change is done after the restart)
CASES = [("move", "move-copied", False), ("move", "move-verified", False), ("move", "move-switched", True),
         ("move", "move-deleted", True), ("add", "move-copied", False), ("add", "move-verified", False),
         ("add", "move-switched", True), ("drop", "move-switched", True), ("drop", "move-deleted", True)]


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def crash_home(request, tmp_path_factory, new_instance):
    home = tmp_path_factory.mktemp(f"crash-{request.param}")
    new_instance(home, request.param, 3)
    load(home, replication=2)
    return home


def state(engine):
    """(database id, {chunk: holders}); no change is left in the moves table."""
    with engine.store.session() as session:
        database_id = session.scalar(select(Database.id).where(Database.name == "sky"))
        held = {}
        for chunk, worker in session.execute(select(Replica.chunk, Replica.worker_id)):
            held.setdefault(chunk, set()).add(worker)
        assert session.scalars(select(Move)).all() == []
    return database_id, held


@pytest.mark.parametrize("kind, point, done", CASES)
def test_a_crash_at_each_step_leaves_the_change_done_or_undone(crash_home, reference, kind, point, done):
    with qserv.open(crash_home) as engine:
        database_id, held = state(engine)
    chunk = sorted(c for c, workers in held.items() if len(workers) == 2)[0]
    source = min(held[chunk])
    target = next(w for w in (1, 2, 3) if w not in held[chunk])
    argv = [sys.executable, "-c", SCRIPT, str(crash_home), kind, str(database_id), str(chunk), str(source),
            str(target)]
    result = subprocess.run(argv, env=dict(os.environ, **{FAULT_ENV: point}), capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == CRASH_EXIT_CODE, result.stderr
    expected = {"move": (held[chunk] - {source}) | {target}, "add": held[chunk] | {target},
                "drop": held[chunk] - {source}}[kind] if done else held[chunk]
    with qserv.open(crash_home) as engine:
        _, after = state(engine)
        assert after[chunk] == expected
        assert {c: w for c, w in after.items() if c != chunk} == {c: w for c, w in held.items() if c != chunk}
        assert check_queries(engine, reference) == []
        assert engine.verify("sky").problems == []
        # no partial copy or old copy is left behind
        assert _stored_per_replica(engine, after) == SOURCES
        assert engine.read_table("sky.Object").num_rows == OBJECTS


def _stored_per_replica(engine, held):
    """Source rows stored on the workers, each chunk's rows counted once per holder: equal to the
    rows of one copy only if no worker keeps rows of a chunk it does not hold."""
    with engine.store.session() as session:
        workers = {w.id: w for w in session.scalars(select(Worker))}
    table = physical_table_name("sky", "Source")
    total_all = 0
    for worker_id, worker in workers.items():
        rows = engine.pool.get(worker).query(f'SELECT _qserv_chunk AS c, count(*) AS n FROM "{table}" GROUP BY 1')
        for chunk, count in zip(rows.column(0).to_pylist(), rows.column(1).to_pylist()):
            assert worker_id in held.get(chunk, ()), f"worker {worker_id} keeps rows of chunk {chunk}"
            total_all += count / len(held[chunk])
    return round(total_all)


BATCH_SCRIPT = textwrap.dedent("""
    import json, sys
    import qserv
    home, database_id, steps = sys.argv[1:4]
    with qserv.open(home) as engine:
        engine.mover.change_many(int(database_id), [tuple(step) for step in json.loads(steps)])
""")


@pytest.mark.parametrize("point, done", [("move-copied", False), ("move-verified", False), ("move-switched", True),
                                         ("move-deleted", True)])
def test_a_crash_in_a_batch_leaves_every_change_done_or_undone(crash_home, reference, point, done):
    """A batch (a move, an added and a dropped replica, switched together) killed at each step."""
    import json

    with qserv.open(crash_home) as engine:
        database_id, held = state(engine)
    moved, added, dropped = sorted(c for c, workers in held.items() if len(workers) == 2)[:3]
    steps, expected = [], dict(held)
    for kind, chunk in (("move", moved), ("add", added), ("drop", dropped)):
        source = min(held[chunk])
        target = next(w for w in (1, 2, 3) if w not in held[chunk])
        steps.append([kind, chunk, source] + ([] if kind == "drop" else [target]))
        if done:
            expected[chunk] = {"move": (held[chunk] - {source}) | {target}, "add": held[chunk] | {target},
                               "drop": held[chunk] - {source}}[kind]
    result = subprocess.run([sys.executable, "-c", BATCH_SCRIPT, str(crash_home), str(database_id), json.dumps(steps)],
                            env=dict(os.environ, **{FAULT_ENV: point}), capture_output=True, text=True, timeout=300)
    assert result.returncode == CRASH_EXIT_CODE, result.stderr
    with qserv.open(crash_home) as engine:
        assert state(engine)[1] == expected
        assert check_queries(engine, reference) == []
        assert engine.verify("sky").problems == []
        assert _stored_per_replica(engine, expected) == SOURCES
        assert engine.read_table("sky.Object").num_rows == OBJECTS
