"""Chunk order for a data size: the rule of thumb behind ``db create --expected-rows`` and the
too-small / too-big chunk warning of ``qserv table stats`` / ``qserv chunks``.

Each chunk costs a fixed amount of work per query (planning, a worker statement share, a merge
input), and each row scanned costs its own: tiny chunks make full scans slow, huge chunks make
cones read far more rows than they need. ``TARGET_ROWS_PER_CHUNK`` is the middle of the range
that keeps both fast (measured by ``bench/chunk_order_bench.py``; the table is in the README,
"Partitioning and its limits"). Each chunk order splits every chunk in four, so the order for a
row count is the one whose rows per chunk is nearest the target on a log scale.
"""

import math

import numpy as np

from qserv.errors import InvalidPartitioningError
from qserv.sphere.pixels import check_order, pixel_count

# Measured (4 DuckDB workers, 1e5-1e7 rows): a full scan pays for every chunk, and gets slow
# below about 1,000 rows per chunk (1e6 rows: 14-35 ms at 300-5,000 rows per chunk, 1.0 s at 5);
# a cone reads its chunks whole, and gets slow above about 50,000 (1e7 rows, 1 arcmin: 17 ms at
# 13,000-52,000 rows per chunk, 55 ms at 208,000). 10,000 sits in the middle of both.
TARGET_ROWS_PER_CHUNK = 10_000
# Order 2 (192 chunks) still spreads a small table over every worker; order 9 (3.1 M chunks) is
# for 1e10 rows and more, and stays below the default sub-chunk order.
MIN_CHUNK_ORDER = 2
MAX_CHUNK_ORDER = 9
# A table whose chunks are this many orders away from the advised order gets a warning: more
# than 8 times the target rows per chunk (above 80,000) or under an eighth (below 1,250), where
# the measured scans or cones are about 2x slower or worse.
WARN_ORDERS = 2


def chunk_order_for_rows(expected_rows: int) -> int:
    """Chunk order whose rows per chunk is nearest ``TARGET_ROWS_PER_CHUNK`` for a table of
    ``expected_rows`` spread over the whole sky, within [MIN_CHUNK_ORDER, MAX_CHUNK_ORDER]."""
    if isinstance(expected_rows, bool) or not isinstance(expected_rows, (int, np.integer)):
        raise InvalidPartitioningError(f"expected rows must be an integer, got {expected_rows!r}")
    if expected_rows < 0:
        raise InvalidPartitioningError(f"expected rows must be >= 0, got {expected_rows}")
    if expected_rows == 0:
        return MIN_CHUNK_ORDER
    return _clamped(_orders_finer(expected_rows / pixel_count(0)))


def chunk_size_warning(rows_per_chunk_median: float, chunk_order: int) -> str | None:
    """None when chunks of ``rows_per_chunk_median`` rows (median over the non-empty chunks) at
    ``chunk_order`` are fine; else one line of advice naming the chunk order to use."""
    median = float(rows_per_chunk_median)
    if not median >= 0.0 or math.isinf(median):
        raise InvalidPartitioningError(f"rows per chunk must be a finite number >= 0, got {rows_per_chunk_median!r}")
    order = check_order(chunk_order, "chunk order")
    if median == 0.0:
        return None
    advised = _clamped(order + _orders_finer(median))
    if abs(advised - order) < WARN_ORDERS:
        return None
    size = "small" if advised < order else "big"
    return (
        f"chunks are too {size} ({median:,.0f} rows per chunk at chunk order {order}; about "
        f"{TARGET_ROWS_PER_CHUNK:,} keeps cones and scans fast): use chunk order {advised} "
        f"for this table"
    )


def _orders_finer(rows_per_chunk):
    """How many orders finer than the current one bring ``rows_per_chunk`` nearest the target
    (negative: coarser). Rows per chunk divide by 4 per order."""
    return round(math.log(rows_per_chunk / TARGET_ROWS_PER_CHUNK, 4))


def _clamped(order):
    return max(MIN_CHUNK_ORDER, min(MAX_CHUNK_ORDER, order))
