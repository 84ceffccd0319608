"""Czar merge benchmark: the Cython merge kernels (``qserv.merge.fast_path.fast_merge`` of the
planner's MergeSpec) against the DuckDB merge path (``Czar().run`` of the merge SELECT next to it
over the same Arrow table) and the numpy references (``qserv.merge.kernels.topk_reference`` /
``combine_reference``).

Workloads: top-k merge of 64 sorted partials x 10 000 rows (k = 100 and k = 100 000) and of the
shape workers really return for LIMIT 100 (64 partials x 100 rows); group combine of COUNT, SUM,
MIN, MAX and AVG partials with 1e3 groups (each in all 64 partials) and 1e6 groups (each in ~4 of
64 partials, 4e6 rows), plus small inputs that show where DuckDB's fixed cost stops mattering.
"""

import time

import numpy as np
import pyarrow as pa

from qserv.merge import kernels
from qserv.merge.czar import Czar
from qserv.merge.fast_path import fast_merge
from qserv.query.aggregates import PARTIALS, split_aggregates
from qserv.sql.dialects import parse, to_sql

PARTS = 64
NULL_FRACTION = 0.01


def _median(function, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _merge_split(query):
    return split_aggregates(parse(query, "adql"))


def topk_partials(parts, rows, seed=0):
    """``parts`` partials of ``rows`` rows (id, ra, decl, mag), each sorted by mag NULLS FIRST
    as a worker's ``ORDER BY mag LIMIT n`` returns them, concatenated like the executor does."""
    rng = np.random.default_rng(seed)
    tables = []
    for part in range(parts):
        mag = rng.normal(20.0, 2.0, rows)
        order = np.argsort(mag, kind="stable")
        nulls = np.zeros(rows, bool)
        nulls[:int(rows * NULL_FRACTION)] = True  # NULLS FIRST: the NULL rows lead the run
        tables.append(pa.table({
            "_qserv_c0": np.arange(part * rows, (part + 1) * rows, dtype=np.int64),
            "_qserv_c1": rng.uniform(0, 360, rows),
            "_qserv_c2": rng.uniform(-90, 90, rows),
            "_qserv_c3": pa.array(mag[order], mask=nulls),
        }))
    return pa.concat_tables(tables, promote_options="permissive")


def group_partials(parts, groups, per_group, seed=0):
    """Worker partials of ``SELECT k, COUNT(*), SUM(x), MIN(x), MAX(x), AVG(x) ... GROUP BY k``:
    every group in ``per_group`` of the ``parts`` partials."""
    rng = np.random.default_rng(seed)
    keys = np.repeat(np.arange(groups, dtype=np.int64), per_group)
    where = rng.integers(0, parts, len(keys))
    order = np.argsort(where, kind="stable")
    keys, where = keys[order], where[order]
    n = len(keys)
    count = rng.integers(1, 50, n)
    empty = rng.random(n) < NULL_FRACTION  # no non-NULL x in that chunk's group
    low = rng.normal(-5, 1, n)
    table = pa.table({
        "_qserv_g0": keys, "_qserv_a0": count, "_qserv_a1": pa.array(rng.normal(0, 10, n), mask=empty),
        "_qserv_a2": pa.array(low, mask=empty), "_qserv_a3": pa.array(low + 10, mask=empty),
        "_qserv_a4": np.where(empty, 0, count),
    })
    bounds = np.searchsorted(where, np.arange(parts + 1))
    return pa.concat_tables([table.slice(bounds[i], bounds[i + 1] - bounds[i]) for i in range(parts)])


GROUP_QUERY = "SELECT k, COUNT(*), SUM(x), MIN(x), MAX(x), AVG(x) FROM t GROUP BY k"


def _topk_reference(partials, k):
    values, valid = kernels.sort_key(partials.column("_qserv_c3"))
    rows = kernels.topk_reference(kernels.run_bounds([partials.column("_qserv_c3")]),
                                  [(values, valid, False, True)], k)
    return partials.take(pa.array(rows))


def _combine_reference(partials):
    keys = [kernels.group_key(partials.column("_qserv_g0"))]
    specs = []
    for name, op in (("_qserv_a0", "count"), ("_qserv_a1", "sum"), ("_qserv_a2", "min"),
                     ("_qserv_a3", "max"), ("_qserv_a4", "count")):
        column = kernels._array(partials.column(name))
        dtype = np.float64 if pa.types.is_floating(column.type) else np.int64
        specs.append((kernels._numbers(column, dtype), kernels._valid(column), op))
    return kernels.combine_reference(keys, specs)


def measure(split, partials, repeats, reference=None, reference_repeats=None):
    """(kernel, duckdb, reference seconds, path the decision rule picks): medians; the kernel
    path is timed whatever the rule says (``decide=False``)."""
    czar = Czar()
    sql, spec = to_sql(split.merge, "duckdb"), split.spec
    try:
        if fast_merge(spec, partials, decide=False) is None:
            raise RuntimeError(f"the kernels cannot answer {sql}")
        chosen = "kernel" if fast_merge(spec, partials) is not None else "DuckDB"
        ours = _median(lambda: fast_merge(spec, partials, decide=False), repeats)
        duck = _median(lambda: czar.run(sql, {PARTIALS: partials}), repeats)
    finally:
        czar.close()
    numpy_time = _median(reference, reference_repeats or repeats) if reference else None
    return ours, duck, numpy_time, chosen


def _row(name, ours, duck, numpy_time, chosen, repeats):
    note = f"DuckDB merge {duck * 1e3:.2f} ms (DuckDB / kernel = {duck / ours:.1f})"
    if numpy_time is not None:
        note += f"; numpy reference {numpy_time * 1e3:.1f} ms"
    note += f"; fast_merge picks {chosen}"
    return (f"{name}, kernel path (median of {repeats})", f"{ours * 1e3:.2f} ms", note)


def bench_merge():
    rows = []
    for parts, per_part, k, repeats in ((PARTS, 10_000, 100, 7), (PARTS, 10_000, 100_000, 5),
                                        (PARTS, 100, 100, 15), (4, 10, 10, 15)):
        partials = topk_partials(parts, per_part)
        split = _merge_split(f"SELECT TOP {k} objectId, ra, decl, mag FROM t ORDER BY mag")
        timings = measure(split, partials, repeats, lambda: _topk_reference(partials, k), reference_repeats=3)
        rows.append(_row(f"top-k merge, {parts} sorted partials x {per_part:,} rows, k = {k:,}", *timings, repeats))
    split = _merge_split(GROUP_QUERY)
    for groups, per_group, repeats, reference_repeats in ((1_000, PARTS, 7, 3), (1_000_000, 4, 3, 1),
                                                           (10, 4, 15, 3)):
        partials = group_partials(PARTS, groups, per_group)
        timings = measure(split, partials, repeats, lambda: _combine_reference(partials), reference_repeats)
        rows.append(_row(f"group combine COUNT/SUM/MIN/MAX/AVG, {groups:.0e} int64 groups x {per_group} "
                         f"of {PARTS} partials ({partials.num_rows:,} rows)", *timings, repeats))
    return rows


if __name__ == "__main__":
    for row in bench_merge():
        print(" | ".join(row))
