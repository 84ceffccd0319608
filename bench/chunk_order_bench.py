"""Chunk order against data size (issue 13 item 6): the same director table loaded into qserv
(4 DuckDB workers, the embedded default) at several chunk orders, timing a full-scan aggregate,
1-degree and 1-arcmin cones and a director-id lookup through ``Engine.query``. The rows per chunk
that keep both cones and scans fast set ``qserv.sphere.sizing.TARGET_ROWS_PER_CHUNK``.

    python -m bench.chunk_order_bench [--sizes 1e5,1e6] [--orders 2,3,4,5,6,7] [--centres 30]
"""

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.data import cone_centres, director_parquet, log
from bench.report import format_seconds, format_size
from bench.systems import Qserv
from qserv.sphere.pixels import pixel_count
from qserv.sphere.sizing import chunk_order_for_rows

SUBCHUNK_ORDER = 9
SCAN_REPEATS = 3
CONE_RADII = ((1.0, "cone 1 deg"), (1.0 / 60.0, "cone 1'"))
HEADER = ["rows", "chunk order", "rows per chunk", "scan", "cone 1 deg", "cone 1'", "id lookup"]


def median_seconds(calls):
    """Median seconds of the calls (each a zero-argument function), after one untimed warm-up."""
    calls[0]()
    times = []
    for call in calls:
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def measure(size, order, centres):
    """Median seconds of each workload for ``size`` rows at chunk order ``order``."""
    root = Path(tempfile.mkdtemp(prefix=f"qserv-bench-order-{size}-{order}-"))
    system = None
    try:
        system = Qserv(root, chunk_order=order, subchunk_order=max(SUBCHUNK_ORDER, order))
        system.load({"Object": director_parquet(size)})
        ids = np.random.default_rng(11).integers(0, size, len(centres))
        times = {"scan": median_seconds([system.scan] * SCAN_REPEATS)}
        for radius, name in CONE_RADII:
            times[name] = median_seconds([lambda c=c: system.cone(*c, radius) for c in centres])
        times["id lookup"] = median_seconds([lambda i=i: system.lookup(int(i)) for i in ids])
        return times
    finally:
        if system is not None:
            system.close()
        shutil.rmtree(root, ignore_errors=True)


def bench_chunk_orders(sizes=(100_000, 1_000_000), orders=range(2, 8), centres=30):
    """Markdown lines: one table row per (size, order); the order sizing advises is marked."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    points = cone_centres(centres)
    for size in sizes:
        chosen = chunk_order_for_rows(size)
        for order in orders:
            log(f"[chunk order] {size:.0e} rows at chunk order {order}")
            times = measure(size, order, points)
            mark = " (advised)" if order == chosen else ""
            cells = [format_size(size), f"{order}{mark}", f"{size / pixel_count(order):,.0f}"]
            cells += [format_seconds(times[name]) for name in HEADER[3:]]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.chunk_order_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1e5,1e6")
    parser.add_argument("--orders", default="2,3,4,5,6,7")
    parser.add_argument("--centres", type=int, default=30)
    args = parser.parse_args(argv)
    sizes = [int(float(s)) for s in args.sizes.split(",") if s]
    orders = [int(o) for o in args.orders.split(",") if o]
    print("\n".join(bench_chunk_orders(sizes, orders, args.centres)))


if __name__ == "__main__":
    main()
