"""Ingest benchmark (issue 3): the latency of one Alert Production visit (a director + child
transaction). Bulk load rates against the peers are in bench/scaling.py."""

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

import qserv
from bench.data import synthetic_objects
from qserv.instance import init_instance
from qserv.meta.admin import TableSpec
from qserv.schema.columns import Column

VISITS = 20
VISIT_ROWS = 10_000


def fresh_instance(root, workers=4):
    home = Path(root) / f"home-{time.monotonic_ns()}"
    init_instance(home, workers=workers)
    return home


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
