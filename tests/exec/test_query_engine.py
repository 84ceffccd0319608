"""Engine.query end to end on both backends: visibility, pruning in explain, the query log,
timeouts, errors. (Result correctness against an unsharded DuckDB is tests/slt/.)"""

from concurrent.futures import ThreadPoolExecutor
import threading
import time

from astropy.coordinates import SkyCoord
import numpy as np
import pyarrow as pa
import pytest

import qserv
from qserv.errors import QueryCancelledError, UserError
from qserv.exec.cancel import Cancellation
from qserv.meta.admin import TableSpec
from qserv.schema.columns import Column

OBJECT_COLUMNS = [Column("objectId", "long", False), Column("ra", "double", False),
                  Column("decl", "double", False), Column("mag", "double")]


def _objects(count, first_id=0, seed=3):
    rng = np.random.default_rng(seed)
    return pa.table({
        "objectId": np.arange(first_id, first_id + count, dtype=np.int64),
        "ra": rng.uniform(0, 360, count),
        "decl": np.degrees(np.arcsin(rng.uniform(-1, 1, count))),
        "mag": rng.normal(20, 1, count),
    })


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def engine(request, tmp_path_factory, new_instance):
    home = tmp_path_factory.mktemp(f"query-{request.param}")
    new_instance(home, request.param, 4)
    with qserv.open(home) as opened:
        opened.create_database("sky", chunk_order=5, subchunk_order=8, overlap_arcsec=60.0)
        opened.create_table("sky.Object", TableSpec("director", OBJECT_COLUMNS, id_column="objectId",
                                                    ra_column="ra", dec_column="decl"))
        opened.create_table("sky.Numbers", TableSpec("replicated", [Column("n", "long")]))
        opened.ingest("sky.Object", [_objects(20000)])
        opened.ingest("sky.Numbers", [pa.table({"n": np.arange(3000, dtype=np.int64)})])
        yield opened


def test_a_cone_reads_a_handful_of_chunks(engine):
    text = "SELECT objectId FROM sky.Object WHERE CONTAINS(POINT(ra, decl), CIRCLE(120, -30, 1)) = 1"
    explanation = engine.explain(text)
    line = next(line for line in explanation.splitlines() if line.startswith("chunks:"))
    touched, populated = int(line.split()[1]), int(line.split()[3])
    assert 1 <= touched <= 12 and populated > 1000
    assert "merge SQL" in explanation and "sky__Object" in explanation


def test_uncommitted_rows_are_invisible(engine):
    before = engine.query("SELECT COUNT(*) AS n, MAX(objectId) AS top FROM sky.Object").to_pylist()
    transaction = engine.transactions.begin("sky")
    engine.transactions.contribute(transaction, "Object", _objects(50, first_id=100000, seed=9), key="b1")
    during = engine.query("SELECT COUNT(*) AS n, MAX(objectId) AS top FROM sky.Object").to_pylist()
    engine.transactions.abort(transaction)
    assert during == before == [{"n": 20000, "top": 19999}]


def test_results_keep_the_schema_types_and_user_names(engine):
    result = engine.query("SELECT TOP 3 objectId AS id, mag, ra * 2 FROM sky.Object ORDER BY objectId")
    assert result.column_names[:2] == ["id", "mag"]
    assert result.schema.field("id").type == pa.int64() and result.schema.field("mag").type == pa.float64()
    assert result.column("id").to_pylist() == [0, 1, 2]


def test_every_query_is_logged(engine):
    engine.query("SELECT TOP 1 objectId FROM sky.Object", user="alice")
    with pytest.raises(UserError, match="unknown column"):
        engine.query("SELECT nope FROM sky.Object", user="alice")
    failed, ok = engine.recent_queries(limit=2, user="alice")
    assert (ok.status, ok.rows) == ("ok", 1) and ok.chunks >= 1 and ok.duration_s > 0
    assert failed.status == "error" and "unknown column" in failed.error


def test_a_query_past_its_time_limit_is_cancelled(engine):
    slow = "SELECT COUNT(*) FROM sky.Numbers a, sky.Numbers b, sky.Numbers c WHERE (a.n * 7 + b.n * 3 + c.n) % 1000003 = 17"
    with pytest.raises(QueryCancelledError, match="time limit"):
        engine.query(slow, timeout_s=0.5)
    assert engine.recent_queries(limit=1)[0].status == "cancelled"
    assert engine.query("SELECT COUNT(*) AS n FROM sky.Numbers").column("n").to_pylist() == [3000]


def test_default_database_and_unknown_database(engine):
    assert engine.query("SELECT COUNT(*) FROM Object", db="sky").num_rows == 1
    with pytest.raises(UserError, match="no database"):
        engine.query("SELECT 1", db="nosuch")


def test_cone_searches_run_while_a_slow_query_occupies_the_workers(engine):
    """Many threads share the engine's worker connections; cones are answered (correctly) while a
    query that would run for hours is still executing, and that query then stops when cancelled."""
    objects = _objects(20000)
    ids = objects.column("objectId").to_numpy()
    positions = SkyCoord(objects.column("ra").to_numpy(), objects.column("decl").to_numpy(), unit="deg")
    centres = [(15.0 * k, -60.0 + 9.0 * k) for k in range(12)]
    slow = Cancellation(timeout_s=300)
    outcome = {}

    def run_slow():
        # Slow by construction: 20000 x 3000 x 3000 rows with a condition that some rows meet
        # (n = 0 on both sides makes it 17 for objectId 17), so no optimiser can answer from
        # statistics without evaluating the product.
        try:
            engine.query("SELECT COUNT(*) FROM sky.Object o, sky.Numbers a, sky.Numbers b "
                         "WHERE (o.objectId * 7 + a.n * 3 + b.n) % 1000003 = 119", cancellation=slow)
        except QueryCancelledError as error:
            outcome["error"] = error

    def cone(centre):
        ra, dec = centre
        rows = engine.query(f"SELECT objectId FROM sky.Object WHERE CONTAINS(POINT(ra, decl), CIRCLE({ra}, {dec}, 3)) = 1")
        return sorted(rows.column("objectId").to_pylist())

    slow_thread = threading.Thread(target=run_slow)
    slow_thread.start()
    try:
        while not slow.running_statements:
            assert slow_thread.is_alive(), "the slow query ended before the cones started"
            time.sleep(0.01)
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(cone, centres))
        assert slow_thread.is_alive(), "the cones waited for the slow query"
    finally:
        slow.cancel("test over")
        slow_thread.join(60)
    assert not slow_thread.is_alive() and "error" in outcome
    for (ra, dec), answer in zip(centres, answers):
        separation = positions.separation(SkyCoord(ra, dec, unit="deg")).deg
        assert answer == sorted(ids[separation < 3].tolist())


def test_a_table_created_by_another_engine_is_queryable_at_once(engine):
    engine.query("SELECT COUNT(*) FROM sky.Object")  # the catalog is cached now
    name = f"Extra{len(engine.recent_queries(limit=1000))}"
    with qserv.open(engine.home) as other:  # as another process would
        other.create_table(f"sky.{name}", TableSpec("replicated", [Column("v", "long")]))
        other.ingest(f"sky.{name}", [pa.table({"v": np.arange(5, dtype=np.int64)})])
    assert engine.query(f"SELECT SUM(v) AS s FROM sky.{name}").to_pylist() == [{"s": 10}]


def test_a_full_scan_reads_each_worker_whole_without_a_chunk_list(engine):
    full = engine.explain("SELECT COUNT(mag) AS n FROM sky.Object WHERE mag > 21")
    assert '"_qserv_chunk" IN' not in full and "worker statements: worker1: 1 (" in full
    cone = engine.explain("SELECT objectId FROM sky.Object WHERE CONTAINS(POINT(ra, decl), CIRCLE(120, -30, 1)) = 1")
    assert '"_qserv_chunk" IN (' in cone
    expected = int((_objects(20000).column("mag").to_numpy() > 21).sum())
    assert engine.query("SELECT COUNT(mag) AS n FROM sky.Object WHERE mag > 21").to_pylist() == [{"n": expected}]
