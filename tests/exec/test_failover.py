"""Failover on both backends: a worker that stops answering in the middle of a query is replaced by
the replicas of its chunks and the answer is complete; with no replica left the query fails naming
the chunks, never with a partial result. Also the result-size limit."""

import re

import duckdb
import numpy as np
import psycopg2
from psycopg2.extensions import parse_dsn
import pyarrow as pa
import pytest

import qserv
from qserv.errors import UserError
from qserv.errors import NoReplicaError, ResultTooLargeError
from qserv.meta.admin import TableSpec
from qserv.meta.catalog import active_workers
from qserv.schema.columns import Column

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=10"
OBJECT_COLUMNS = [Column("objectId", "long", False), Column("ra", "double", False),
                  Column("decl", "double", False), Column("mag", "double")]
ROWS = 20000


def _objects():
    rng = np.random.default_rng(11)
    return pa.table({
        "objectId": np.arange(ROWS, dtype=np.int64),
        "ra": rng.uniform(0, 360, ROWS),
        "decl": np.degrees(np.arcsin(rng.uniform(-1, 1, ROWS))),
        "mag": rng.normal(20, 1, ROWS),
    })


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def engine(request, tmp_path_factory, new_instance):
    home = tmp_path_factory.mktemp(f"failover-{request.param}")
    new_instance(home, request.param, 3)
    with qserv.open(home) as setup:
        # many small statements, so a worker can fail after some of its statements succeeded
        setup.set_setting("query_batch_chunks", "40")
        setup.set_setting("query_threads", "2")
        setup.set_setting("worker_suspect_s", "0")
        setup.create_database("twice", chunk_order=4, subchunk_order=7, overlap_arcsec=60.0, replication=2)
        setup.create_database("once", chunk_order=4, subchunk_order=7, overlap_arcsec=60.0, replication=1)
        for database in ("twice", "once"):
            setup.create_table(f"{database}.Object", TableSpec("director", OBJECT_COLUMNS, id_column="objectId",
                                                               ra_column="ra", dec_column="decl"))
            setup.ingest(f"{database}.Object", [_objects()])
        setup.create_table("twice.Numbers", TableSpec("replicated", [Column("n", "long")]))
        setup.ingest("twice.Numbers", [pa.table({"n": np.arange(100, dtype=np.int64)})])
    with qserv.open(home) as opened:
        yield opened


class Outage:
    """Makes one worker unreachable from its ``after``-th statement on (DuckDB: its connection is
    replaced by a closed one; PostgreSQL: its database refuses connections and its sessions are terminated)."""

    def __init__(self, engine, worker_row, after):
        self.engine, self.row, self.after = engine, worker_row, after
        self.worker = engine.execution.workers.open(worker_row)
        self.calls = 0
        self.broken = False
        self._query = self.worker.query
        self.worker.query = self._counted

    def _counted(self, sql, cancellation=None):
        self.calls += 1
        if self.calls >= self.after and not self.broken:
            self.break_worker()
        return self._query(sql, cancellation)

    def _dbname(self):
        return parse_dsn(self.row.location)["dbname"]

    def break_worker(self):
        self.broken = True
        if self.row.backend == "duckdb":  # as if its file's disk went away: every call fails
            gone = duckdb.connect()
            gone.close()
            self.worker._database = gone
        else:
            _admin(f'ALTER DATABASE "{self._dbname()}" ALLOW_CONNECTIONS false',
                   f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{self._dbname()}'")

    def restore(self):
        self.worker.query = self._query
        if self.row.backend == "postgres":
            _admin(f'ALTER DATABASE "{self._dbname()}" ALLOW_CONNECTIONS true')
        self.engine.execution.workers.failed(self.row.id)  # reopened on next use


def _admin(*statements):
    connection = psycopg2.connect(PG_ADMIN)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        connection.close()


@pytest.fixture
def outage(engine):
    started = []

    def start(worker_index, after=1):
        with engine.store.session() as session:
            rows = sorted(active_workers(session), key=lambda w: w.id)
            for row in rows:
                session.expunge(row)
        started.append(Outage(engine, rows[worker_index], after))
        return started[-1]

    yield start
    for each in started:
        each.restore()


def _expected_aggregates():
    objects = _objects()
    mag = objects.column("mag").to_numpy()
    return {"n": ROWS, "total": pytest.approx(float(mag.sum()), rel=1e-12), "low": 0, "high": ROWS - 1}


AGGREGATES = ("SELECT COUNT(mag) AS n, SUM(mag) AS total, MIN(objectId) AS low, MAX(objectId) AS high "
              "FROM twice.Object")


def test_a_worker_lost_mid_query_is_replaced_by_replicas(engine, outage):
    lost = outage(0, after=2)  # its first statement succeeds, then it goes away
    assert engine.query(AGGREGATES).to_pylist() == [_expected_aggregates()]
    assert lost.broken and lost.calls >= 2
    rows = engine.query("SELECT objectId FROM twice.Object WHERE mag > 21")
    expected = _objects().filter(pa.compute.greater(_objects().column("mag"), 21)).column("objectId")
    assert sorted(rows.column("objectId").to_pylist()) == sorted(expected.to_pylist())


def test_a_worker_down_before_the_query_is_avoided(engine, outage):
    down = outage(1)
    down.break_worker()
    assert engine.query(AGGREGATES).to_pylist() == [_expected_aggregates()]
    # the next query opens the worker again, fails to, and goes to the replicas
    assert engine.query(AGGREGATES).to_pylist() == [_expected_aggregates()]


def test_replicated_tables_fail_over_to_any_worker(engine, outage):
    down = outage(0)
    down.break_worker()
    assert engine.query("SELECT SUM(n) AS s FROM twice.Numbers").to_pylist() == [{"s": 4950}]


def test_without_a_replica_left_the_query_fails_naming_the_chunks(engine, outage):
    lost = outage(2, after=1)
    held = sorted(chunk for chunk, rows, _, workers in engine.chunks("once.Object")
                  if workers == [lost.row.name])
    assert held, "the worker holds no chunk of the database"
    with pytest.raises(NoReplicaError) as raised:
        engine.query("SELECT COUNT(mag) AS n FROM once.Object")
    message = str(raised.value)
    listed = re.search(r"chunks ([\d, ]+?)(?: and (\d+) more)? of database once", message)
    named = [int(chunk) for chunk in listed.group(1).split(", ")]
    assert set(named) <= set(held) and len(named) + int(listed.group(2) or 0) == len(held)
    assert lost.row.name in message and "cannot be answered completely" in message
    if lost.row.backend == "postgres":  # the next query cannot even connect: the same clear error
        with pytest.raises(NoReplicaError, match="no replica left"):
            engine.query("SELECT COUNT(mag) AS n FROM once.Object")
        lost.restore()
    # a failed worker is opened again by the next query (DuckDB: the file is fine, so it answers)
    assert engine.query("SELECT COUNT(mag) AS n FROM once.Object").to_pylist() == [{"n": ROWS}]


def test_a_result_over_the_size_limit_is_refused(engine):
    limit = engine.settings["query_result_max_mb"]
    engine.settings["query_result_max_mb"] = 1
    try:
        wide = ", ".join(f"mag + {k} AS m{k}" for k in range(10))
        with pytest.raises(ResultTooLargeError, match="result is too large") as raised:
            engine.query(f"SELECT objectId, {wide} FROM twice.Object")
        assert isinstance(raised.value, UserError) and raised.value.exit_code == 2
        assert engine.query("SELECT objectId FROM twice.Object WHERE objectId < 10").num_rows == 10
    finally:
        engine.settings["query_result_max_mb"] = limit
