"""Replay benchmark (issue 20): replay throughput of a query log of mixed cones, id lookups and
aggregates, and the cost of fingerprinting (``qserv.fingerprint``) on a cone search.

    python -m bench.replay_bench [--queries 10000] [--rows 1e6] [--workers 4] [--concurrency 1,4]

The log is made by running the queries once on a fresh instance (DuckDB workers); it is then
replayed from the instance's own log (``qserv.replay``) at each concurrency, as of the logged
visibility (every answer must come out ``same``). The fingerprint overhead is the median time of
``checksum`` + ``columns_of`` on the answers of the cones against the median cone time."""

import argparse
from pathlib import Path
import statistics
import tempfile
import time

import numpy as np
import pyarrow as pa

import qserv
from bench.data import log
from qserv.fingerprint import checksum, columns_of
from qserv.instance import init_instance
from qserv.meta.admin import TableSpec
from qserv.replay import sources
from qserv.replay.runner import EngineTarget, replay
from qserv.replay.report import counts
from qserv.schema.columns import Column

RESULTS_DIR = Path(__file__).parent / "results"
TABLE = "bench.Obj"
FIELD_DEG = 20.0


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.replay_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=10_000, help="queries in the log")
    parser.add_argument("--rows", type=float, default=1e6, help="director rows")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", default="1,4", help="replay concurrencies, comma-separated")
    parser.add_argument("--cone-radius-deg", type=float, default=0.1)
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "replay.md")
    args = parser.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c]
    return args


def _rows(count, rng):
    return pa.table({"id": np.arange(count, dtype=np.int64), "ra": rng.uniform(0, FIELD_DEG, count),
                     "dec": rng.uniform(-FIELD_DEG / 2, FIELD_DEG / 2, count),
                     "mag": rng.normal(21, 1.5, count), "band": rng.choice(["g", "r", "i", "z"], count)})


def _queries(count, rows, radius, rng):
    """60% cones, 30% id lookups, 10% aggregates (of a few shapes), shuffled."""
    found = []
    for kind in rng.choice(["cone", "lookup", "aggregate"], count, p=[0.6, 0.3, 0.1]):
        if kind == "cone":
            ra, dec = rng.uniform(1, FIELD_DEG - 1), rng.uniform(-FIELD_DEG / 2 + 1, FIELD_DEG / 2 - 1)
            found.append(f"SELECT id, ra, dec, mag FROM {TABLE} WHERE CONTAINS(POINT('ICRS', ra, dec), "
                         f"CIRCLE('ICRS', {ra:.5f}, {dec:.5f}, {radius})) = 1")
        elif kind == "lookup":
            found.append(f"SELECT * FROM {TABLE} WHERE id = {int(rng.integers(0, rows))}")
        else:
            limit = round(float(rng.uniform(18, 24)), 2)
            found.append(f"SELECT band, COUNT(*) AS n, AVG(mag) AS mean_mag FROM {TABLE} "
                         f"WHERE mag < {limit} GROUP BY band")
    return found


def fingerprint_overhead(engine, radius, rng, cones=200):
    """(median cone ms, median fingerprint ms) over ``cones`` cones."""
    query_ms, print_ms = [], []
    for _ in range(cones):
        ra, dec = rng.uniform(1, FIELD_DEG - 1), rng.uniform(-FIELD_DEG / 2 + 1, FIELD_DEG / 2 - 1)
        started = time.perf_counter()
        answer = engine.query(f"SELECT id, ra, dec, mag FROM {TABLE} WHERE CONTAINS(POINT('ICRS', ra, dec), "
                              f"CIRCLE('ICRS', {ra:.5f}, {dec:.5f}, {radius})) = 1")
        query_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        checksum(answer), columns_of(answer)
        print_ms.append((time.perf_counter() - started) * 1000)
    return statistics.median(query_ms), statistics.median(print_ms), answer.num_rows


def main(argv=None):
    args = parse_args(argv)
    rng = np.random.default_rng(20)
    lines = ["# Replay benchmark (bench/replay_bench.py)", ""]
    with tempfile.TemporaryDirectory(prefix="qserv-replay-bench-") as home:
        init_instance(home, workers=args.workers)
        with qserv.open(home) as engine:
            engine.create_database("bench", chunk_order=7)
            engine.create_table(TABLE, TableSpec(kind="director", columns=[
                Column("id", "long", nullable=False), Column("ra", "double"), Column("dec", "double"),
                Column("mag", "double"), Column("band", "string")], id_column="id", ra_column="ra",
                dec_column="dec"))
            engine.ingest(TABLE, [_rows(int(args.rows), rng)])
            cone_ms, print_ms, cone_rows = fingerprint_overhead(engine, args.cone_radius_deg, rng)
            lines += [f"- fingerprint of a {args.cone_radius_deg} deg cone ({cone_rows} rows, {int(args.rows):,} "
                      f"director rows): median {print_ms:.3f} ms of a {cone_ms:.2f} ms query "
                      f"({100 * print_ms / cone_ms:.1f}%)"]
            log(f"replay bench: running {args.queries} queries for the log")
            started = time.perf_counter()
            for text in _queries(args.queries, int(args.rows), args.cone_radius_deg, rng):
                engine.query(text)
            first_s = time.perf_counter() - started
            lines += [f"- first run of the {args.queries}-query log (60% cones, 30% id lookups, 10% aggregates): "
                      f"{args.queries / first_s:.0f} queries/s"]
            entries = sources.from_log(engine, limit=args.queries)
            for concurrency in args.concurrency:
                log(f"replay bench: replay at concurrency {concurrency}")
                started = time.perf_counter()
                verdicts = replay(entries, EngineTarget(engine), as_of="logged", concurrency=concurrency,
                                  slower_factor=1e9)
                elapsed = time.perf_counter() - started
                found = {kind: n for kind, n in counts(verdicts).items() if n}
                lines += [f"- replay as of the logged visibility, concurrency {concurrency}: "
                          f"{len(entries) / elapsed:.0f} queries/s ({found})"]
    text = "\n".join(lines) + "\n"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(text)
    return lines


if __name__ == "__main__":
    main()
