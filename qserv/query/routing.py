"""Routing an inline list of positions to chunks, for ``InlineCrossmatch`` plans (pure, no I/O).

Each row's circle of the match radius is covered by chunks (coarse and conservative, as every
coverage); a chunk is read only if some row's circle touches it, and a statement over a batch of
chunks carries only the rows whose circles touch the batch. Rows with a NULL position can match
nothing and are dropped; a position outside RA/Dec range is a user error naming the row.
"""

import numpy as np
import pyarrow as pa

from qserv.errors import UserError
from qserv.sphere.coverage import coverage
from qserv.sphere.circle import Circle


def route_rows(info, crossmatch, chunk_order):
    """{chunk id: sorted int64 row indices of ``info.rows``} for the positions of ``crossmatch``."""
    ra = _degrees(info, crossmatch.ra_column)
    dec = _degrees(info, crossmatch.dec_column)
    known = ~(np.isnan(ra) | np.isnan(dec))
    bad = known & ((dec < -90.0) | (dec > 90.0) | ~np.isfinite(ra))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise UserError(f"{info.key}, row {row + 1}: position ({ra[row]!r}, {dec[row]!r}) is not a valid "
                        f"RA/Dec in degrees (columns {crossmatch.ra_column!r}, {crossmatch.dec_column!r})")
    rows_of = {}
    for row in np.flatnonzero(known):
        circle = Circle(float(ra[row]) % 360.0, float(dec[row]), crossmatch.radius_deg)
        for chunk in coverage(circle, chunk_order).tolist():
            rows_of.setdefault(chunk, []).append(int(row))
    return {chunk: np.asarray(rows, dtype=np.int64) for chunk, rows in rows_of.items()}


def rows_for_chunks(rows_of, chunks):
    """Sorted unique row indices routed to any of ``chunks``."""
    found = [rows_of[c] for c in chunks if c in rows_of]
    return np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)


def _degrees(info, name):
    column = info.rows.column(name)
    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
        raise UserError(f"{info.key}.{name} must be a number of degrees to match positions, "
                        f"not {column.type}")
    return column.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
