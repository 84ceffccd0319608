"""Run the benchmarks and write bench/results/latest.md."""

import sys
from pathlib import Path

from bench import ingest_bench, machine, sphere_bench, tap_bench, votable_bench

RESULTS = Path(__file__).parent / "results" / "latest.md"


def main():
    sections = [
        ("Sphere: partitioning and coverage", sphere_bench.bench_assignment() + sphere_bench.bench_coverage()),
        ("Ingest", ingest_bench.bench_bulk() + ingest_bench.bench_visit()),
        ("VOTable output", votable_bench.bench_votable()),
        ("TAP service under load", tap_bench.bench_tap_concurrency()),
    ]
    lines = ["# qserv benchmark results", "",
             "Machine: " + machine.describe(["numpy", "healpy", "Cython", "duckdb", "pyarrow", "lsdb", "astropy"]), ""]
    for title, rows in sections:
        lines += [f"## {title}", "", "| workload | median | note |", "|---|---|---|"]
        lines += [f"| {name} | {value} | {note} |" for name, value, note in rows]
        lines.append("")
    text = "\n".join(lines)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
