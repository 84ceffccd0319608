"""qserv against its peers at several sizes: the same rows loaded into qserv (4 DuckDB workers,
at each chunk order asked, side by side), qserv (4 PostgreSQL workers), one unsharded DuckDB table, PostgreSQL + Q3C and LSDB; each
workload runs on every system in the same run, alternating, and is reported as medians and
ratios (bench/report.py), with one scaling plot per workload."""

import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from bench.data import child_parquet, cone_centres, director_parquet, log, match_parquet
from bench.report import Measurement, Target
from bench.systems import DuckDBTable, Lsdb, PostgresDatabases, Q3C, Qserv

WORKLOADS = ("load", "cone", "lookup", "scan", "crossmatch", "child", "concurrent")
CONE_RADII = ((10.0 / 3600.0, "10 arcsec"), (1.0 / 60.0, "1 arcmin"), (1.0, "1 deg"))
CROSSMATCH_ARCSEC = 1.0
CONCURRENT_THREADS = 50
CONCURRENT_CONES_PER_THREAD = 4
CONCURRENT_RADIUS_DEG = 1.0 / 60.0
ROUNDS_BUDGET_S = 45.0  # full scan, crossmatch: no new round of every system after this

DUCKDB, Q3C_NAME, LSDB, QSERV_PG = DuckDBTable.name, Q3C.name, Lsdb.name, Qserv.POSTGRES_NAME
SCAN = "full scan COUNT/AVG with filter"
GROUPED_SCAN = "full scan COUNT/AVG with filter, GROUP BY"
CONCURRENT = f"{CONCURRENT_THREADS} concurrent cones r=1 arcmin, p95"
TARGETS = {  # issue 15
    "cone r=1 arcmin": [Target("<= PostgreSQL+Q3C", Q3C_NAME, max_ratio=1.0)],
    "cone r=1 deg": [Target("<= 1/3 DuckDB", DUCKDB, max_ratio=1 / 3)],
    "director-id lookup": [Target("p50 <= 2 ms", max_seconds=0.002),
                           Target("<= 2x PostgreSQL+Q3C", Q3C_NAME, max_ratio=2.0)],
    SCAN: [Target("<= 1.15x DuckDB", DUCKDB, max_ratio=1.15)],
    GROUPED_SCAN: [Target("<= 1.15x DuckDB", DUCKDB, max_ratio=1.15)],
    "crossmatch 1 arcsec": [Target("<= DuckDB zones SQL", DUCKDB, max_ratio=1.0),
                            Target("<= 0.5x q3c_join", Q3C_NAME, max_ratio=0.5)],
    CONCURRENT: [Target("p95 <= 100 ms, 0 errors", max_seconds=0.1)],
}


class Options:
    """What to run: sizes (director rows), workloads, and the largest sizes of the slow peers."""

    def __init__(self, sizes=(100_000, 1_000_000, 10_000_000), only=WORKLOADS, centres=50, lookups=50,
                 lsdb_max=10_000_000, lsdb_centres=10, qserv_pg_max=1_000_000, repeats=3, chunk_orders=(4, 7),
                 subchunk_order=9):
        self.sizes, self.only, self.centres, self.lookups = sizes, only, centres, lookups
        self.lsdb_max, self.lsdb_centres, self.qserv_pg_max = lsdb_max, lsdb_centres, qserv_pg_max
        self.repeats, self.chunk_orders, self.subchunk_order = repeats, tuple(chunk_orders), subchunk_order

    def subchunk_order_of(self, chunk_order):
        """At least the asked sub-chunk order and 3 orders finer than the chunks (7 -> 10, the default)."""
        return max(self.subchunk_order, chunk_order + 3)

    def qserv_names(self):
        """The qserv systems (DuckDB workers) compared side by side, one per chunk order."""
        return tuple(f"qserv order {order}" for order in self.chunk_orders)

    def tables(self):
        """The tables the workloads read: Source for the child join, Match for the crossmatch."""
        return ("Object",) + (("Source",) if {"load", "child"} & set(self.only) else ()) + \
            (("Match",) if {"load", "crossmatch"} & set(self.only) else ())


class Run:
    """Measurements and notes (mismatching answers, skipped systems) of the whole comparison."""

    def __init__(self, reference):
        self.reference = reference  # the system whose answers the others must give
        self.measurements = []
        self.notes = []
        self.mismatches = []
        self.not_run = {}  # (size, system name) -> why

    def add(self, workload, size, system, samples, percentile=50, rows=None, errors=0):
        if samples:
            self.measurements.append(Measurement(workload, size, system, float(np.percentile(samples, percentile)),
                                                 len(samples), rows, errors))

    def check(self, workload, size, answers):
        """Every system must give the reference's answer (row counts, pair counts, aggregates)."""
        expected = answers.get(self.reference)
        for system, answer in answers.items():
            same = (answer == expected if not isinstance(answer, tuple) else
                    answer[0] == expected[0] and np.allclose(answer[1:], expected[1:], rtol=1e-9))
            if not same:
                message = f"{workload} at {size}: {system} answered {difference(answer, expected)}, {self.reference}"
                log(f"[scaling] MISMATCH {message}")
                self.mismatches.append(message)


def difference(answer, expected):
    """The first place where two answers differ, briefly (an answer can be hundreds of values)."""
    if not (isinstance(answer, tuple) and isinstance(expected, tuple) and len(answer) == len(expected)):
        return f"{answer!r} instead of {expected!r}"
    where = [i for i, (a, e) in enumerate(zip(answer, expected)) if a != e]
    relative = max(abs(answer[i] - expected[i]) / max(abs(expected[i]), 1e-300) for i in where)
    return (f"{len(where)} of {len(answer)} values differently, the first at [{where[0]}]: "
            f"{answer[where[0]]!r} instead of {expected[where[0]]!r} (largest relative difference {relative:.1e})")


def _timed(function, *args):
    start = time.perf_counter()
    answer = function(*args)
    return time.perf_counter() - start, answer


def _rotated(systems, step):
    """The systems in an order that changes at every step, so none always runs first."""
    k = step % len(systems)
    return systems[k:] + systems[:k]


def _alternating(run, workload, size, systems, calls, method, percentile=50, check=True, limit=None,
                 budget_s=None):
    """Time ``method(*args)`` for every args of ``calls`` on every system, alternating; ``limit``
    maps a system name to how many of the calls it runs (the slow peers); no new round starts
    once ``budget_s`` seconds have passed."""
    samples = {s.name: [] for s in systems}
    started = time.perf_counter()
    for step, args in enumerate(calls):
        if budget_s is not None and step and time.perf_counter() - started > budget_s:
            break
        answers = {}
        for system in _rotated(systems, step):
            if limit and step >= limit.get(system.name, len(calls)):
                continue
            seconds, answers[system.name] = _timed(getattr(system, method), *args)
            samples[system.name].append(seconds)
        if check:
            run.check(f"{workload} {args!r}", size, answers)
    for system in systems:
        run.add(workload, size, system.name, samples[system.name], percentile)


def _concurrent(system, centres):
    """(latencies, errors) of CONCURRENT_THREADS threads that start together, each running cones."""
    latencies, errors = [], []
    barrier = threading.Barrier(CONCURRENT_THREADS)

    def client(index):
        cone = system.cone_client()
        barrier.wait()
        for k in range(CONCURRENT_CONES_PER_THREAD):
            ra, dec = centres[(index * CONCURRENT_CONES_PER_THREAD + k) % len(centres)]
            try:
                latencies.append(_timed(cone, ra, dec, CONCURRENT_RADIUS_DEG)[0])
            except Exception as error:  # reported, never hidden
                errors.append(repr(error))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CONCURRENT_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors


def _systems(root, size, options, databases, run):
    systems = [Qserv(root, chunk_order=order, subchunk_order=options.subchunk_order_of(order))
               for order in options.chunk_orders]
    systems += [DuckDBTable(root), Q3C(root, databases)]
    if size <= options.qserv_pg_max:
        order = options.chunk_orders[0]
        systems.append(Qserv(root, backend="postgres", chunk_order=order,
                             subchunk_order=options.subchunk_order_of(order), databases=databases))
    else:
        run.not_run[(size, QSERV_PG)] = (f"not run above {options.qserv_pg_max:.0e} rows (time budget: at 1e7, "
                                         "measured once, its load took 96 s and its crossmatch 394 s)")
    if size <= options.lsdb_max:
        systems.append(Lsdb(root))
    else:
        run.not_run[(size, LSDB)] = f"not run above {options.lsdb_max:.0e} rows (--lsdb-max)"
    return systems


def run_size(size, options, run):
    make = {"Object": lambda: director_parquet(size), "Source": lambda: child_parquet(size),
            "Match": lambda: match_parquet(max(size // 10, 1), size)}
    paths = {table: make[table]() for table in options.tables()}
    rows = {table: pq.read_metadata(path).num_rows for table, path in paths.items()}
    root = Path(tempfile.mkdtemp(prefix=f"qserv-bench-scaling-{size}-"))
    databases = PostgresDatabases()
    systems = []
    try:
        systems = _systems(root, size, options, databases, run)
        for system in systems:
            log(f"[scaling {size:.0e}] loading {system.name}")
            start = time.perf_counter()
            seconds = system.load(paths)
            log(f"[scaling {size:.0e}] loaded {system.name} in {time.perf_counter() - start:.1f} s: "
                + ", ".join(f"{table} {s:.1f} s" for table, s in seconds.items()))
            if "load" in options.only:
                for table, s in seconds.items():
                    run.measurements.append(Measurement(f"ingest {table}", size, system.name, s, 1, rows[table]))
        _workloads(size, options, run, systems)
    finally:
        for system in systems:
            try:
                system.close()
            except Exception as error:
                log(f"[scaling] closing {system.name}: {error!r}")
        databases.drop_all()
        shutil.rmtree(root, ignore_errors=True)


def _workloads(size, options, run, systems):
    def having(method):
        return [s for s in systems if hasattr(s, method)]

    def step(name):
        log(f"[scaling {size:.0e}] {name}")

    centres = cone_centres(options.centres)
    for system in systems:  # warm up: first queries open files and install functions
        system.cone(*centres[0], 1.0 / 60.0)
    if "cone" in options.only:
        for radius, label in CONE_RADII:
            step(f"cone r={label}")
            _alternating(run, f"cone r={label}", size, systems, [(ra, dec, radius) for ra, dec in centres], "cone",
                         limit={LSDB: options.lsdb_centres})
    if "lookup" in options.only:
        step("director-id lookup")
        ids = np.random.default_rng(11).integers(0, size, options.lookups)
        _alternating(run, "director-id lookup", size, having("lookup"), [(int(i),) for i in ids], "lookup")
    if "scan" in options.only:
        step("full scan")
        _alternating(run, SCAN, size, having("scan"), [()] * options.repeats, "scan", budget_s=ROUNDS_BUDGET_S)
        step("full scan, GROUP BY")
        _alternating(run, GROUPED_SCAN, size, having("grouped_scan"), [()] * options.repeats, "grouped_scan",
                     budget_s=ROUNDS_BUDGET_S)
    if "crossmatch" in options.only:
        step("crossmatch")
        _alternating(run, "crossmatch 1 arcsec", size, having("crossmatch"),
                     [(CROSSMATCH_ARCSEC / 3600.0,)] * options.repeats, "crossmatch", budget_s=ROUNDS_BUDGET_S)
    if "child" in options.only:
        step("director + child join in a 1 deg cone")
        _alternating(run, "director+child join, cone r=1 deg", size, having("child_cone"),
                     [(ra, dec, 1.0) for ra, dec in centres[:20]], "child_cone")
    if "concurrent" in options.only:
        for system in having("cone_client"):
            step(f"concurrent cones on {system.name}")
            latencies, errors = _concurrent(system, centres)
            if errors:
                run.notes.append(f"{CONCURRENT} at {size}: {system.name} had {len(errors)} errors, e.g. {errors[0]}")
            run.add(CONCURRENT, size, system.name, latencies, percentile=95, errors=len(errors))


def run_all(options):
    run = Run(options.qserv_names()[0])
    for size in options.sizes:
        run_size(size, options, run)
    return run


def describe(options):
    """The notes printed above the tables."""
    return [
        f"Sizes are director rows (`Object`, 20 columns: id, ra, dec, 10 float64, 3 float32, parallax, "
        f"2 int32, an int64); the child `Source` has 1-5 rows per director (3 on average, 8 columns); "
        f"`Match` has a tenth of the director rows (half within ~0.3 arcsec of a director row). "
        "qserv: 4 workers, side by side at chunk orders "
        + ", ".join(f"{o} ({12 * 4 ** o} chunks, sub-chunk order {options.subchunk_order_of(o)})"
                    for o in options.chunk_orders)
        + "; overlap 60 arcsec; queries through `Engine.query` (ADQL); tables loaded: "
        + ", ".join(options.tables()) + ".",
        "Peers: DuckDB = one file, `objects` sorted by dec (cones use a dec band + haversine) with an ART index "
        "on id; crossmatch by declination zones SQL. PostgreSQL + Q3C = COPY, q3c_ang2ipix index, CLUSTER, "
        "ANALYZE, primary key; `q3c_radial_query`, `q3c_join`. LSDB = `from_dataframe` (margin 60 arcsec) + "
        f"`write_catalog`, then `open_catalog`; cone_search (on the first {options.lsdb_centres} cone centres "
        f"only: 0.05-0.3 s each) and crossmatch (n_neighbors=8). qserv with PostgreSQL workers up to "
        f"{options.qserv_pg_max:.0e} rows.",
        f"Cones: p50 over {options.centres} random centres (the same for every system), id, ra, dec, flux_0 "
        f"returned; lookup: p50 of {options.lookups} random ids, all columns; full scans (`COUNT(*), AVG(flux_0) WHERE flux_1 > 1.5`, and "
        "`SELECT nsrc, COUNT(*), AVG(mag_g) ... WHERE mag_r > 18 GROUP BY nsrc`, 50 groups) and crossmatch (pairs "
        f"counted, `Match` x `Object`): median of {options.repeats} (fewer, marked, when a round of every system "
        f"takes over {ROUNDS_BUDGET_S:.0f} s); ingest: one run (the table's rows, and for "
        f"the peers their indexes, CLUSTER, ANALYZE). Concurrent: {CONCURRENT_THREADS} threads in one process "
        f"start together, {CONCURRENT_CONES_PER_THREAD} cones each (one Engine shared; a DuckDB cursor per "
        "thread; a PostgreSQL connection per thread). Systems run alternately, in a rotating order.",
    ]
