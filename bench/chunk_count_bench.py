"""Per-query latency against the number of populated chunks (issue 15): the same director rows
loaded into qserv (4 DuckDB workers) at chunk orders 3..7 (about 7.7e2 .. 2e5 populated chunks
at 1e6 rows), timing a 1-arcmin cone, a director-id lookup and the full-scan GROUP BY through
``Engine.query``; one unsharded DuckDB table holding the same rows is the reference. The target
is a flat curve: the cost of a query follows the rows it reads, not the chunks that exist.
Run as the ``chunks`` section of ``python -m bench``.
"""

import shutil
import tempfile
from pathlib import Path

import numpy as np

from bench.chunk_order_bench import median_seconds
from bench.data import cone_centres, director_parquet, log
from bench.report import format_seconds, format_size
from bench.systems import DuckDBTable, Qserv

SCAN_REPEATS = 3
CONE_RADIUS_DEG = 1.0 / 60.0
WORKLOADS = ("cone r=1 arcmin", "director-id lookup", "full scan GROUP BY")
PLOT_NAME = "latency_vs_populated_chunks.png"


def _times(system, centres, ids):
    """Median seconds of each of WORKLOADS on ``system``."""
    return {
        "cone r=1 arcmin": median_seconds([lambda c=c: system.cone(*c, CONE_RADIUS_DEG) for c in centres]),
        "director-id lookup": median_seconds([lambda i=i: system.lookup(int(i)) for i in ids]),
        "full scan GROUP BY": median_seconds([system.grouped_scan] * SCAN_REPEATS),
    }


def measure(size, orders, centres):
    """([(chunk order, populated chunks, {workload: seconds})], {workload: DuckDB seconds})."""
    path = director_parquet(size)
    ids = np.random.default_rng(11).integers(0, size, len(centres))
    points = []
    root = Path(tempfile.mkdtemp(prefix=f"qserv-bench-chunks-{size}-"))
    try:
        reference = DuckDBTable(root)
        try:
            reference.load({"Object": path})
            baseline = _times(reference, centres, ids)
        finally:
            reference.close()
        for order in orders:
            log(f"[chunk count] {size:.0e} rows at chunk order {order}")
            system = Qserv(root, chunk_order=order, subchunk_order=max(9, order + 3))
            try:
                system.load({"Object": path})
                populated = sum(1 for _, rows, _, _ in system.engine.chunks("bench.Object") if rows)
                points.append((order, populated, _times(system, centres, ids)))
            finally:
                system.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return points, baseline


def spread(points, workload):
    """Slowest over fastest median of ``workload`` across the chunk orders (1.0 = flat)."""
    seconds = [times[workload] for _, _, times in points]
    return max(seconds) / min(seconds)


def table_lines(size, points, baseline):
    """Markdown: one row per chunk order, then the DuckDB reference and the spread of each workload."""
    header = ["rows", "chunk order", "populated chunks"] + list(WORKLOADS)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for order, populated, times in points:
        cells = [format_size(size), str(order), f"{populated:,}"] + [format_seconds(times[w]) for w in WORKLOADS]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("| " + " | ".join([format_size(size), "DuckDB unsharded", "—"]
                                   + [format_seconds(baseline[w]) for w in WORKLOADS]) + " |")
    lines.append("| " + " | ".join(["", "slowest / fastest order", ""]
                                   + [f"{spread(points, w):.2f}x" for w in WORKLOADS]) + " |")
    return lines


def plot(size, points, baseline, path):
    """Log-log PNG of median latency (ms) against populated chunks, one line per workload, the
    DuckDB table's time dashed in the same colour, each point labelled with its chunk order."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    chunks = [populated for _, populated, _ in points]
    figure, axes = pyplot.subplots(figsize=(7, 4.5))
    for index, workload in enumerate(WORKLOADS):
        colour = f"C{index}"
        milliseconds = [times[workload] * 1e3 for _, _, times in points]
        axes.plot(chunks, milliseconds, marker="o", color=colour, linewidth=2, label=f"qserv: {workload}")
        axes.axhline(baseline[workload] * 1e3, color=colour, linestyle="--", linewidth=1,
                     label=f"DuckDB unsharded: {workload}")
    for order, populated, times in points:
        axes.annotate(f"order {order}", (populated, times[WORKLOADS[0]] * 1e3), textcoords="offset points",
                      xytext=(0, 8), ha="center", fontsize=7)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("populated chunks of the table (chunk orders 3..7, same rows)")
    axes.set_ylabel("median latency per query (ms)")
    axes.set_title(f"qserv per-query latency vs populated chunks\n{format_size(size)} rows, 4 DuckDB workers, "
                   "Engine.query (flat = cost independent of the chunk count)", fontsize=10)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    figure.savefig(path, dpi=110, bbox_inches="tight")
    pyplot.close(figure)
    return path


def bench_chunk_counts(results_dir, size=1_000_000, orders=range(3, 8), centres=30):
    """Markdown lines of the table; the plot is written to ``results_dir``."""
    points, baseline = measure(size, list(orders), cone_centres(centres))
    plot(size, points, baseline, Path(results_dir) / PLOT_NAME)
    return table_lines(size, points, baseline) + ["", f"Plot: `{PLOT_NAME}`."]

