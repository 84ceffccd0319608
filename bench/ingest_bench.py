"""Ingest benchmarks (issue 3): bulk load rate against a plain DuckDB load and LSDB, and the
latency of one Alert Production visit (a director + child transaction)."""

import shutil
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import qserv
from bench.data import objects_parquet, synthetic_objects
from qserv.instance import init_instance
from qserv.meta.admin import TableSpec
from qserv.schema.columns import Column
from qserv.schema.infer import columns_from_parquet

BULK_ROWS = 10_000_000
LSDB_ROWS = 1_000_000
VISITS = 20
VISIT_ROWS = 10_000
REPEATS = 3


def fresh_instance(root, workers=4):
    home = Path(root) / f"home-{time.monotonic_ns()}"
    init_instance(home, workers=workers)
    return home


def qserv_bulk_seconds(root, path):
    home = fresh_instance(root)
    with qserv.open(home) as engine:
        engine.create_database("bench")
        engine.create_table("bench.Object", TableSpec(kind="director", columns=columns_from_parquet(path),
                                                      id_column="id", ra_column="ra", dec_column="dec"))
        start = time.perf_counter()
        engine.ingest("bench.Object", [path])
        return time.perf_counter() - start


def duckdb_bulk_seconds(root, path):
    connection = duckdb.connect(str(Path(root) / f"plain-{time.monotonic_ns()}.duckdb"))
    start = time.perf_counter()
    connection.execute(f"CREATE TABLE objects AS SELECT * FROM read_parquet('{path}')")
    connection.execute("CHECKPOINT")
    seconds = time.perf_counter() - start
    connection.close()
    return seconds


def lsdb_bulk_seconds(root, path):
    import lsdb

    start = time.perf_counter()
    frame = pq.read_table(path).to_pandas()
    catalog = lsdb.from_dataframe(frame, ra_column="ra", dec_column="dec", margin_threshold=60.0)
    catalog.to_hats(Path(root) / f"lsdb-{time.monotonic_ns()}")
    return time.perf_counter() - start


def bench_bulk():
    rows = []
    root = Path(tempfile.mkdtemp(prefix="qserv-bench-ingest-"))
    try:
        for size in (LSDB_ROWS, BULK_ROWS):
            path = objects_parquet(size)
            ours, plain = [], []
            for _ in range(REPEATS):  # alternating, so both see the same machine
                ours.append(qserv_bulk_seconds(root, path))
                plain.append(duckdb_bulk_seconds(root, path))
            ours, plain = float(np.median(ours)), float(np.median(plain))
            rows.append((f"ingest {size:.0e} rows x 12 cols, 4 DuckDB workers, overlap 1 arcmin (median of {REPEATS})",
                         f"{ours:.1f} s", f"{size / ours / 1e6:.2f} M rows/s (target >= 1); "
                         f"plain DuckDB load of the same Parquet {plain:.1f} s (qserv/DuckDB time ratio "
                         f"{ours / plain:.1f})"))
            if size == LSDB_ROWS:
                peer = lsdb_bulk_seconds(root, path)
                rows.append((f"LSDB from_dataframe + to_hats, {size:.0e} rows, margin 60 arcsec",
                             f"{peer:.1f} s", f"qserv is {peer / ours:.1f}x faster"))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return rows


def visit_tables(visit, rng):
    """One visit: VISIT_ROWS new DiaObjects and VISIT_ROWS DiaSources in a 3.5 deg field."""
    ra0, dec0 = rng.uniform(0, 360), rng.uniform(-60, 20)
    first = visit * VISIT_ROWS
    objects = synthetic_objects(VISIT_ROWS, seed=visit, first_id=first).select(["id", "ra", "dec"])
    objects = objects.set_column(1, "ra", pa.array((ra0 + rng.uniform(-1.75, 1.75, VISIT_ROWS)) % 360))
    objects = objects.set_column(2, "dec", pa.array(dec0 + rng.uniform(-1.75, 1.75, VISIT_ROWS)))
    sources = pa.table({"sourceId": np.arange(first, first + VISIT_ROWS), "objectId": objects["id"],
                        "ra": objects["ra"], "dec": objects["dec"], "psfFlux": rng.normal(size=VISIT_ROWS)})
    return objects, sources


def bench_visit():
    root = Path(tempfile.mkdtemp(prefix="qserv-bench-visit-"))
    try:
        home = fresh_instance(root)
        totals, commits = [], []
        with qserv.open(home) as engine:
            engine.create_database("apdb")
            engine.create_table("apdb.DiaObject", TableSpec(
                kind="director", columns=[Column("id", "long", nullable=False), Column("ra", "double"),
                                          Column("dec", "double")], id_column="id", ra_column="ra", dec_column="dec"))
            engine.create_table("apdb.DiaSource", TableSpec(
                kind="child", columns=[Column("sourceId", "long"), Column("objectId", "long"), Column("ra", "double"),
                                       Column("dec", "double"), Column("psfFlux", "double")],
                director="DiaObject", director_key="objectId", ra_column="ra", dec_column="dec"))
            rng = np.random.default_rng(1)
            for visit in range(VISITS):
                objects, sources = visit_tables(visit, rng)
                start = time.perf_counter()
                transaction = engine.transactions.begin("apdb")
                engine.transactions.contribute(transaction, "DiaObject", objects, key=f"visit-{visit}-objects")
                engine.transactions.contribute(transaction, "DiaSource", sources, key=f"visit-{visit}-sources")
                before_commit = time.perf_counter()
                engine.transactions.commit(transaction)
                end = time.perf_counter()
                totals.append(end - start)
                commits.append(end - before_commit)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return [(f"one visit: {VISIT_ROWS} DiaObjects + {VISIT_ROWS} DiaSources, begin..commit (p50 of {VISITS})",
             f"{np.median(totals) * 1e3:.0f} ms", f"commit call alone p50 {np.median(commits) * 1e3:.0f} ms "
             f"(target 50 ms)")]
