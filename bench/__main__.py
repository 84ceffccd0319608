"""Run the benchmarks and write bench/results/latest.md (and the scaling plots beside it).

    python -m bench [--sizes 1e5,1e6,1e7] [--only cone,crossmatch,...] [--centres 50] ...

Sections: sphere, visit (one Alert Production visit), the peer comparison workloads
(load, cone, lookup, scan, crossmatch, child, concurrent; see bench/scaling.py), merge, votable,
tap, chunkorder (query times against chunk order; bench/chunk_order_bench.py), chunks (latency against
populated chunks, with a plot; bench/chunk_count_bench.py), startup (CLI start time), apdb (the
Alert Production cycle against lsst-dax-apdb's ApdbSql; bench/apdb_bench.py), alerts (packet
build, archive ingest and lookups; bench/alerts_bench.py), replay (query-log replay throughput
and fingerprint overhead; bench/replay_bench.py), dba (ingest rates, verify, re-replication and
queries during a rebalance at the largest --sizes; bench/dba_bench.py), efd (one night of the
transformed EFD against a pandas script; bench/efd_bench.py), backbone (Data Backbone registry: 1e6
registrations, chained finds, sky searches; bench/backbone_bench.py).
Progress goes to stderr; the report to bench/results/latest.md (or --output) and stdout."""

import argparse
import sys
import time
from pathlib import Path

from bench import chunk_order_bench, ingest_bench, machine, merge_bench, report, scaling, sphere_bench, tap_bench, votable_bench
from bench import chunk_count_bench, startup_bench
from bench.data import log

RESULTS_DIR = Path(__file__).parent / "results"
RESULTS = RESULTS_DIR / "latest.md"
SECTIONS = ("sphere", "visit") + scaling.WORKLOADS + ("merge", "votable", "tap", "chunkorder", "chunks", "startup",
                                                     "apdb", "alerts", "replay", "dba", "efd", "backbone")
SCALING_GROUPS = [  # (title, workload name prefix)
    ("Ingest (one run per size)", "ingest "),
    ("Cone search", "cone "),
    ("Director-id lookup", "director-id lookup"),
    ("Full-scan filter + aggregate", "full scan"),
    ("Crossmatch", "crossmatch"),
    ("Director + child join", "director+child"),
    ("Concurrent cone searches", f"{scaling.CONCURRENT_THREADS} concurrent"),
]


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1e5,1e6,1e7",
                        help="director rows of the peer comparison, comma-separated (default 1e5,1e6,1e7)")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"sections to run, comma-separated, from: {', '.join(SECTIONS)}")
    parser.add_argument("--centres", type=int, default=50, help="cone centres per radius (default 50)")
    parser.add_argument("--lsdb-max", type=float, default=1e7, help="largest size LSDB runs at (default 1e7)")
    parser.add_argument("--qserv-pg-max", type=float, default=1e6,
                        help="largest size qserv with PostgreSQL workers runs at (default 1e6)")
    parser.add_argument("--chunk-orders", default="4,7",
                        help="qserv chunk orders compared side by side, comma-separated (default 4,7)")
    parser.add_argument("--subchunk-order", type=int, default=9,
                        help="qserv sub-chunk order, at least chunk order + 3 (default 9)")
    parser.add_argument("--output", type=Path, default=RESULTS,
                        help="the report file (default bench/results/latest.md; plots go beside it)")
    args = parser.parse_args(argv)
    args.sizes = [int(float(size)) for size in args.sizes.split(",") if size]
    args.chunk_orders = [int(order) for order in args.chunk_orders.split(",") if order]
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(args.only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {', '.join(sorted(unknown))} (expected {', '.join(SECTIONS)})")
    return args


def simple_section(title, rows):
    lines = [f"## {title}", "", "| workload | median | note |", "|---|---|---|"]
    return lines + [f"| {name} | {value} | {note} |" for name, value, note in rows] + [""]


def scaling_section(run, options, plots):
    lines = ["## qserv against its peers, by size", ""]
    lines += [f"- {note}" for note in scaling.describe(options)]
    lines += ["- ratio = qserv time / peer time (below 1: qserv is faster), for each chunk order side by side; "
              "the target columns say whether the issue's target is met at that size and order.", ""]
    for title, prefix in SCALING_GROUPS:
        found = [m for m in run.measurements if m.workload.startswith(prefix)]
        if found:
            lines += [f"### {title}", ""]
            names = options.qserv_names()
            lines += report.markdown_table(report.table_rows(found, scaling.TARGETS, names, run.not_run),
                                           report.table_header(names)) + [""]
    if run.mismatches:
        lines += ["Answers that differ from qserv's:", ""] + [f"- {m}" for m in run.mismatches] + [""]
    else:
        lines += ["Every system returned the same row counts, pair counts and aggregates as qserv.", ""]
    lines += [f"- {note}" for note in run.notes]
    if plots:
        lines += ["Scaling plots (median time vs director rows, log-log): "
                  + ", ".join(f"`{name}`" for name in plots), ""]
    return lines


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    lines = ["# qserv benchmark results", "",
             "Machine: " + machine.describe(["numpy", "healpy", "Cython", "duckdb", "pyarrow", "psycopg2-binary",
                                             "lsdb", "astropy", "matplotlib"])
             + "; " + machine.postgres_description(), ""]

    def timed(name, function):
        log(f"[bench] {name}")
        start = time.perf_counter()
        result = function()
        log(f"[bench] {name} took {time.perf_counter() - start:.0f} s")
        return result

    if "sphere" in args.only:
        lines += simple_section("Sphere: partitioning and coverage", timed(
            "sphere", lambda: sphere_bench.bench_assignment() + sphere_bench.bench_coverage()))
    if "visit" in args.only:
        lines += simple_section("Ingest: one Alert Production visit", timed("visit", ingest_bench.bench_visit))
    workloads = [name for name in args.only if name in scaling.WORKLOADS]
    if workloads:
        options = scaling.Options(sizes=args.sizes, only=workloads, centres=args.centres,
                                  lsdb_max=int(args.lsdb_max), qserv_pg_max=int(args.qserv_pg_max),
                                  chunk_orders=args.chunk_orders, subchunk_order=args.subchunk_order)
        run = timed("peers by size", lambda: scaling.run_all(options))
        plots = report.plot_scaling(run.measurements, args.output.parent) if len(args.sizes) > 1 else []
        lines += scaling_section(run, options, plots)
    if "merge" in args.only:
        lines += simple_section("Merge kernels (czar)", timed("merge", merge_bench.bench_merge))
    if "votable" in args.only:
        lines += simple_section("VOTable output", timed("votable", votable_bench.bench_votable))
    if "tap" in args.only:
        lines += simple_section("TAP service under load", timed("tap", tap_bench.bench_tap_concurrency))
    if "chunkorder" in args.only:
        lines += ["## Chunk order against data size (qserv, 4 DuckDB workers, medians)", ""]
        lines += timed("chunkorder", chunk_order_bench.bench_chunk_orders) + [""]
    if "chunks" in args.only:
        lines += ["## Per-query latency against populated chunks (qserv, 4 DuckDB workers, medians)", ""]
        lines += timed("chunks", lambda: chunk_count_bench.bench_chunk_counts(args.output.parent)) + [""]
    if "startup" in args.only:
        lines += simple_section("CLI start time (new process per run)", timed("startup", startup_bench.bench_startup))
    if "apdb" in args.only:  # 50 visits of 10k DiaSources; larger runs: python -m bench.apdb_bench --help
        from bench import apdb_bench
        lines += ["## APDB per-visit cycle against ApdbSql (bench/apdb_bench.py)", ""]
        lines += timed("apdb", lambda: apdb_bench.bench_apdb(
            ["--visits", "50", "--minutes", "30", "--output", str(args.output.parent / "apdb")])) + [""]
    if "alerts" in args.only:  # 1e6 alerts from a 10k-source visit; python -m bench.alerts_bench --help
        from bench import alerts_bench
        lines += ["## Alert archive (bench/alerts_bench.py)", ""]
        lines += timed("alerts", lambda: alerts_bench.main(
            ["--output", str(args.output.parent / "alerts.md")])[4:]) + [""]
    if "replay" in args.only:  # a 10k-query log; python -m bench.replay_bench --help
        from bench import replay_bench
        lines += ["## Query-log replay and fingerprints (bench/replay_bench.py)", ""]
        lines += timed("replay", lambda: replay_bench.main(
            ["--output", str(args.output.parent / "replay.md")])[2:]) + [""]
    if "efd" in args.only:  # 1000 exposures, 50 topics; python -m bench.efd_bench --help
        from bench import efd_bench
        lines += ["## Transformed EFD, one night (bench/efd_bench.py)", ""]
        lines += timed("efd", efd_bench.bench_efd)
    if "dba" in args.only:  # one size; more: python -m bench.dba_bench --help
        from bench import dba_bench
        lines += ["## DBA operations (bench/dba_bench.py)", ""]
        lines += timed("dba", lambda: dba_bench.bench_dba(
            ["--sizes", str(max(args.sizes)), "--output", str(args.output.parent / "issue17")])) + [""]
    if "backbone" in args.only:  # 1e6 datasets; fewer: python -m bench.backbone_bench --datasets 1e5
        from bench import backbone_bench
        lines += ["## Data Backbone registry (bench/backbone_bench.py)", ""]
        lines += timed("backbone", lambda: backbone_bench.main([])[2:])
    lines += [f"`python -m bench {' '.join(sys.argv[1:] if argv is None else argv)}`".replace(" `", "`")
              + f" took {(time.perf_counter() - started) / 60:.1f} min.", ""]
    text = "\n".join(lines)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
