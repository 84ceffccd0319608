"""`qserv table drop` / `qserv db drop` on both backends: refusals change nothing, a drop leaves no
physical table on any worker nor in TAP_SCHEMA, and a table or database re-created under the same
name with other columns answers from its new rows only (plan cache included), against numpy."""

import threading
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests
from sqlalchemy import func, select

import qserv
from qserv.errors import ConflictError, NotFoundError, UserError
from qserv.exec.chunk_rows import stored_schema
from qserv.meta.admin import TableSpec
from qserv.meta.models import Chunk, Contribution, Replica, Table, Transaction
from qserv.meta.workers import listed_workers
from qserv.schema.columns import Column

from tests.cli_run import ok, run as run_cli, user_error

from .conftest import check_queries, datasets, load
from .test_remote_cli import run, server  # noqa: F401  (server: the fixture of a running `qserv serve`)

NEW_COLUMNS = [Column("objectId", "long", False), Column("ra", "double", False), Column("decl", "double", False),
               Column("flux", "double"), Column("flag", "int")]
COUNT_BELOW = "SELECT COUNT(*) AS n FROM sky.Object WHERE objectId < {}"


def physical_tables(engine):
    """{worker name: set of physical table names} of every listed worker."""
    with engine.store.session() as session:
        workers = listed_workers(session)
    return {w.name: set(engine.pool.get(w).query(
        "SELECT table_name::VARCHAR AS name FROM information_schema.tables "
        "WHERE table_schema = current_schema()").column("name").to_pylist()) for w in workers}


def index_tables(engine):
    return set(engine.index._run("SELECT table_name FROM information_schema.tables", fetch=True)
               .column("table_name").to_pylist())


def tap_tables(engine):
    return set(engine.tap_schema()["tables"].column("table_name").to_pylist())


def new_objects(count, seed):
    rng = np.random.default_rng(seed)
    return pa.table({"objectId": np.arange(10_000, 10_000 + count, dtype=np.int64),
                     "ra": rng.uniform(0, 360, count), "decl": np.degrees(np.arcsin(rng.uniform(-1, 1, count))),
                     "flux": rng.lognormal(0, 1, count), "flag": rng.integers(0, 4, count).astype(np.int32)})


def state(engine):
    """What a refused drop must leave as it was: catalog rows and physical tables."""
    with engine.store.session() as session:
        counts = tuple(session.scalar(select(func.count()).select_from(model))
                       for model in (Table, Chunk, Contribution, Replica, Transaction))
    return counts, physical_tables(engine), index_tables(engine)


def test_drop_and_recreate_table(home, reference):
    with qserv.open(home) as engine:
        for limit in (100, 200, 300):  # the shape is learnt by the plan cache
            assert engine.query(COUNT_BELOW.format(limit)).column("n")[0].as_py() == limit
        before = state(engine)
        with pytest.raises(ConflictError, match="sky.Source"):  # the child names it as director
            engine.drop_table("sky.Object")
        for bad, error in (("sky.Nope", NotFoundError), ("nodb.Object", NotFoundError), ("Object", UserError)):
            with pytest.raises(error):
                engine.drop_table(bad)
        assert state(engine) == before and check_queries(engine, reference) == []

        report = engine.drop_table("sky.Source")
        assert report.dropped == ["sky.Source"] and report.leftovers == []
        report = engine.drop_table("sky.Object")
        assert report.dropped == ["sky.Object"] and report.leftovers == []
        for name, tables in physical_tables(engine).items():
            assert tables & {"sky__Object", "sky__Source"} == set(), name
            assert "sky__Filter" in tables
        assert not any(t.startswith("idx_sky__") for t in index_tables(engine))
        assert tap_tables(engine) & {"sky.Object", "sky.Source"} == set() and "sky.Filter" in tap_tables(engine)
        with pytest.raises(UserError, match="Object"):
            engine.query("SELECT COUNT(*) FROM sky.Object")
        with engine.store.session() as session:
            assert session.scalar(select(func.count()).select_from(Chunk)) == len(engine.chunks("sky.Filter"))

        engine.create_table("sky.Object", TableSpec("director", NEW_COLUMNS, id_column="objectId",
                                                    ra_column="ra", dec_column="decl"))
        rows = new_objects(1500, 5)
        engine.ingest("sky.Object", [rows])
        ids = rows.column("objectId").to_numpy()
        for limit in (10_100, 10_700, 11_000):  # the same shape as before the drop
            assert engine.query(COUNT_BELOW.format(limit)).column("n")[0].as_py() == int((ids < limit).sum())
        got = engine.query("SELECT SUM(flux) AS f, SUM(flag) AS g, COUNT(*) AS n FROM sky.Object").to_pylist()[0]
        assert got["n"] == rows.num_rows and got["g"] == int(rows.column("flag").to_numpy().sum())
        assert got["f"] == pytest.approx(float(rows.column("flux").to_numpy().sum()))
        wanted = [10_003, 10_777, 3]  # 3 was an id of the dropped table only
        found = engine.query(f"SELECT objectId FROM sky.Object WHERE objectId IN {tuple(wanted)}")
        assert sorted(found.column("objectId").to_pylist()) == [10_003, 10_777]
        assert {c.name for c in engine.query("SELECT * FROM sky.Object WHERE objectId = 10001").schema} \
            == {c.name for c in NEW_COLUMNS}


def test_drop_database(home, backend):
    with qserv.open(home) as engine:
        engine.publish("sky")
        before = state(engine)
        with pytest.raises(ConflictError, match="published"):
            engine.drop_database("sky")
        with pytest.raises(ConflictError, match="published"):
            engine.drop_table("sky.Filter")
        with pytest.raises(NotFoundError):
            engine.drop_database("nosuch", force=True)
        assert state(engine) == before

        report = engine.drop_database("sky", force=True)
        assert sorted(report.dropped) == ["sky.Filter", "sky.Object", "sky.Source"] and report.leftovers == []
        for name, tables in physical_tables(engine).items():
            assert not any(t.startswith("sky__") for t in tables), (name, tables)
        assert not any(t.startswith("idx_sky__") for t in index_tables(engine))
        with engine.store.session() as session:
            assert [session.scalar(select(func.count()).select_from(m)) for m in (Table, Chunk, Replica)] == [0, 0, 0]
        assert tap_tables(engine) == set() or not any(t.startswith("sky.") for t in tap_tables(engine))
        with pytest.raises(UserError):
            engine.query("SELECT COUNT(*) FROM sky.Filter")

        engine.create_database("sky", chunk_order=2, subchunk_order=5, replication=2)
        engine.create_table("sky.Object", TableSpec("director", NEW_COLUMNS, id_column="objectId",
                                                    ra_column="ra", dec_column="decl"))
        rows = new_objects(800, 6)
        engine.ingest("sky.Object", [rows])
        got = engine.query("SELECT COUNT(*) AS n, SUM(flag) AS g FROM sky.Object").to_pylist()[0]
        assert got == {"n": 800, "g": int(rows.column("flag").to_numpy().sum())}
        report = engine.verify("sky")
        assert report.problems == [] and all(len(w) == 2 for _, _, _, w in engine.chunks("sky.Object"))


def test_leftovers_cleared_at_recreate(home):
    """Physical tables left by a drop that could not reach the workers (here: put back by hand,
    rows included) are dropped when a table of that name is created again: their rows never show."""
    old = datasets()["Filter"]
    columns = [Column("band", "string", False), Column("wavelength", "double")]
    system = {"_qserv_chunk": -1, "_qserv_subchunk": -1, "_qserv_overlap": False, "_qserv_txn": 1, "_qserv_contrib": 1}
    schema = stored_schema(columns)
    leftover = pa.table([old.column(f.name) if f.name in old.column_names
                         else pa.array([system.get(f.name)] * old.num_rows, f.type) for f in schema], schema=schema)
    with qserv.open(home) as engine:
        engine.drop_table("sky.Filter")
        with engine.store.session() as session:
            workers = listed_workers(session)
        for worker in workers:
            engine.pool.get(worker).ensure_table("sky__Filter", columns)
            engine.pool.get(worker).load("sky__Filter", leftover)
        engine.create_table("sky.Filter", TableSpec("replicated", columns))
        assert engine.query("SELECT COUNT(*) AS n FROM sky.Filter").column("n")[0].as_py() == 0
        engine.ingest("sky.Filter", [old.slice(0, 2)])
        assert engine.query("SELECT COUNT(*) AS n FROM sky.Filter").column("n")[0].as_py() == 2


def test_drops_through_the_server(server):
    """REST and `qserv --url`: bad input is 400/403/404 (exit 2) and changes nothing; drops while TAP
    queries run: each answer is the full count or a clear error, and the server keeps answering."""
    url, tokens, folder = server
    objects = new_objects(3000, 7)
    pq.write_table(objects, folder / "objects.parquet")
    pq.write_table(pa.table({"sourceId": np.arange(50), "objectId": np.arange(10_000, 10_050)}),
                   folder / "sources.parquet")
    run(server, "db", "create", "gone", "--chunk-order", "1", "--subchunk-order", "5")
    run(server, "table", "create", "gone.Object", "--like", str(folder / "objects.parquet"), "--kind", "director",
        "--id", "objectId", "--ra", "ra", "--dec", "decl")
    run(server, "table", "create", "gone.Source", "--like", str(folder / "sources.parquet"), "--kind", "child",
        "--director", "gone.Object", "--director-key", "objectId")
    run(server, "ingest", "gone.Object", str(folder / "objects.parquet"))
    run(server, "publish", "gone")
    admin = {"Authorization": f"Bearer {tokens['root']}"}

    def delete(path, token=admin, **params):
        return requests.delete(f"{url}/admin/v1{path}", headers=token, params=params, timeout=120)

    assert delete("/databases/nosuch").status_code == 404
    assert delete("/databases/gone/tables/nosuch", force="true").status_code == 404
    assert delete("/databases/gone", token={"Authorization": f"Bearer {tokens['alice']}"}).status_code == 403
    refused = delete("/databases/gone/tables/Object", force="true")
    assert refused.status_code == 400 and "gone.Source" in refused.json()["error"]
    assert delete("/databases/gone", force="maybe").status_code == 400
    assert "published" in run(server, "db", "drop", "gone", expect=2).stderr
    assert "published" in run(server, "table", "drop", "gone.Source", expect=2).stderr
    assert tap_count(url, tokens["alice"], "gone.Object") == objects.num_rows

    assert "dropped gone.Source" in run(server, "table", "drop", "gone.Source", "--force").stdout
    answers, stop = [], threading.Event()

    def query_loop():
        while not stop.is_set():
            answers.append(tap_count(url, tokens["alice"], "gone.Object", strict=False))

    reader = threading.Thread(target=query_loop)
    reader.start()
    try:
        time.sleep(0.3)
        dropped = delete("/databases/gone", force="true")
        time.sleep(0.3)
    finally:
        stop.set()
        reader.join()
    assert dropped.status_code == 200 and dropped.json()["dropped"] == ["gone.Object"], dropped.text
    assert answers and all(a == objects.num_rows or (isinstance(a, str) and "gone" in a) for a in answers), answers
    assert isinstance(answers[-1], str)  # the last ones after the drop: an error naming the database
    assert "gone" not in [d["name"] for d in requests.get(f"{url}/admin/v1/databases", headers=admin).json()]
    assert "no database 'gone'" in run(server, "db", "drop", "gone", "--force", expect=2).stderr


def tap_count(url, token, table, strict=True):
    """COUNT(*) of ``table`` through TAP; without ``strict``, an error's text instead of failing."""
    answer = requests.get(f"{url}/tap/sync", params={"LANG": "ADQL", "QUERY": f"SELECT COUNT(*) AS n FROM {table}",
                                                     "RESPONSEFORMAT": "csv"},
                          headers={"Authorization": f"Bearer {token}"}, timeout=120)
    if answer.status_code != 200 and not strict:
        return answer.text
    assert answer.status_code == 200, answer.text
    return int(answer.text.splitlines()[1])


def test_cli_drops(tmp_path, new_instance):
    """`qserv table drop` / `qserv db drop`: exit 2 with the reason for bad input, then the drops."""
    home = tmp_path / "home"
    new_instance(home, "duckdb", 2)
    load(home)
    ok(run_cli(home, "publish", "sky"))
    user_error(run_cli(home, "table", "drop", "sky.Nope"), "no table 'Nope'")
    user_error(run_cli(home, "db", "drop", "sky"), "published", "--force")
    assert "dropped sky.Source" in ok(run_cli(home, "table", "drop", "sky.Source", "--force"))
    out = ok(run_cli(home, "db", "drop", "sky", "--force"))
    assert "dropped sky.Object, sky.Filter" in out or "dropped sky.Filter, sky.Object" in out
