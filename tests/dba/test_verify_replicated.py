"""`qserv verify` over the copies of replicated tables, both backends: a copy that differs from the
majority, or is missing, is reported (a three-way tie is decided by the committed row count) and
rebuilt from a good copy by --repair; afterwards each worker alone reads the committed rows."""

import pyarrow as pa

import qserv
from qserv.exec.chunk_rows import _hashes_alike, sign_chunks, sign_rows, stored_schema
from qserv.meta.catalog import get_database, table_columns
from qserv.meta.workers import get_worker, listed_workers
from qserv.storage import HiddenTransactions, physical_table_name

from tests.cli_run import ok, run

from .conftest import check_queries, datasets, load

FILTER = physical_table_name("sky", "Filter")
WORKERS = ("worker1", "worker2", "worker3")


def alone(engine, name, check):
    """``check()`` with only worker ``name`` active."""
    for other in WORKERS:
        if other != name:
            engine.set_worker_state(other, "disabled")
    try:
        return check()
    finally:
        for other in WORKERS:
            engine.set_worker_state(other, "active")


def filters(engine):
    return engine.query("SELECT band, wavelength FROM sky.Filter ORDER BY band").to_pylist()


def test_verify_and_repair_replicated_copies(home, reference):
    expected = datasets()["Filter"].sort_by("band").to_pylist()
    with qserv.open(home) as engine:
        clean = engine.verify("sky")
        assert clean.problems == [] and clean.copies == len(WORKERS)
        with engine.store.session() as session:
            two, three = get_worker(session, "worker2"), get_worker(session, "worker3")
        engine.pool.get(two).delete_where(FILTER, "band = 'r'")
        engine.pool.get(three).delete_where(FILTER, "TRUE")
        report = engine.verify("sky")  # three signatures: the one with the committed rows (3) wins
        found = sorted((p.table, p.chunk, p.worker, p.status, p.rows) for p in report.problems)
        assert found == [("sky.Filter", -1, "worker2", "differs", 2), ("sky.Filter", -1, "worker3", "missing", 0)]
        for name in ("worker2", "worker3"):  # each bad copy alone answers wrong
            assert alone(engine, name, lambda: filters(engine)) != expected, name
        repaired = engine.verify("sky", repair=True)
        assert len(repaired.problems) == 2 and all(p.repaired for p in repaired.problems)
        assert engine.verify("sky").problems == []
        for name in WORKERS:
            assert alone(engine, name, lambda: filters(engine)) == expected, name
        assert check_queries(engine, reference) == []


def test_copy_missed_while_disabled(home):
    """A worker disabled during an ingest into a replicated table misses it: verify finds it by
    majority once the worker is enabled again, --repair (here through the CLI) brings it level."""
    extra = pa.table({"band": ["z"], "wavelength": [905.0]})
    with qserv.open(home) as engine:
        engine.set_worker_state("worker3", "disabled")
        engine.ingest("sky.Filter", [extra])
        engine.set_worker_state("worker3", "active")
        expected = sorted(pa.concat_tables([datasets()["Filter"], extra]).to_pylist(), key=lambda r: r["band"])
        assert alone(engine, "worker3", lambda: filters(engine)) != expected
        problems = engine.verify("sky").problems
        assert [(p.table, p.worker, p.status, p.rows) for p in problems] == [("sky.Filter", "worker3", "differs", 3)]
    assert "table sky.Filter\tworker worker3\tdiffers\trows 3\trepaired" in ok(run(home, "verify", "sky", "--repair"))
    with qserv.open(home) as engine:
        assert engine.verify("sky").problems == []
        for name in WORKERS:
            assert alone(engine, name, lambda: filters(engine)) == expected, name


def test_in_place_signatures_equal_the_arrow_ones(tmp_path, new_instance):
    """A DuckDB worker signs its chunks in place exactly as the rows read out and signed in memory
    (how PostgreSQL workers' rows are signed), so replicas on both backends compare."""
    home = tmp_path / "home"
    new_instance(home, "duckdb", 2)
    load(home)
    with qserv.open(home) as engine:
        with engine.store.session() as session:
            worker = listed_workers(session)[0]
            tables = {t.name: table_columns(t) for t in get_database(session, "sky").tables if t.kind != "replicated"}
        duck = engine.pool.get(worker)
        for name, columns in tables.items():
            physical = physical_table_name("sky", name)
            chunks = duck.query(f'SELECT DISTINCT _qserv_chunk AS c FROM "{physical}"').column("c").to_pylist()
            assert _hashes_alike(duck, physical, stored_schema(columns)), name  # the in-place path is taken
            in_place = sign_chunks(duck, physical, columns, chunks, HiddenTransactions())
            read_out = sign_rows(duck.query(f'SELECT * FROM "{physical}"'), stored_schema(columns))
            assert len(in_place) == len(chunks) > 10 and in_place == read_out, name
