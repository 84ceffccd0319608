"""Read queries of the APDB (ADQL text built from numbers and catalog names only) and the
reduction of the rows read to the current versions (pure: no I/O)."""

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from qserv.errors import UserError
from qserv.sphere import Circle, Polygon
from qserv.sphere.angles import vectors_to_radec

from qserv.payloads.apdb.tables import DELETED_COLUMN, MOVED_COLUMN, VERSION_COLUMN

DAYS_PER_MONTH = 30  # dax_apdb's history window: visit_time (TAI MJD) - months * 30 days
IDS_PER_QUERY = 1000


def history_start_mjd_tai(visit_time, months):
    """The earliest midpointMjdTai of the history read at ``visit_time`` (as dax_apdb computes it)."""
    return float(visit_time.tai.mjd) - months * DAYS_PER_MONTH


def region_adql(region):
    """ADQL geometry of a qserv.sphere Circle or Polygon."""
    if isinstance(region, Circle):
        return f"CIRCLE('ICRS', {_number(region.ra_deg)}, {_number(region.dec_deg)}, {_number(region.radius_deg)})"
    if isinstance(region, Polygon):
        corners = ", ".join(f"{_number(ra)}, {_number(dec)}" for ra, dec in zip(region.ra_deg, region.dec_deg))
        return f"POLYGON('ICRS', {corners})"
    raise UserError(f"APDB regions are qserv.sphere Circle or Polygon, got {type(region).__name__}")


def in_region(region):
    return f"CONTAINS(POINT('ICRS', ra, dec), {region_adql(region)}) = 1"


def grown_cap(region, margin_arcsec):
    """A Circle holding ``region`` and every point within ``margin_arcsec`` of it."""
    centre, radius_rad = region.bounding_cap()
    ra, dec = vectors_to_radec(np.asarray(centre, dtype=float).reshape(1, 3))
    return Circle(float(ra[0]), float(dec[0]), min(180.0, np.degrees(radius_rad) + margin_arcsec / 3600.0))


def select(database, table, columns, conditions, markers=(), versioned=True):
    """ADQL reading ``columns`` and the version columns (``versioned``: apdbVersion; ``markers``:
    MOVED/DELETED columns)."""
    names = ", ".join(f'"{name}"' for name in [*columns, *([VERSION_COLUMN] if versioned else []), *markers])
    return f'SELECT {names} FROM "{database}"."{table}" WHERE {" AND ".join(conditions)}'


def ids_in(column, ids):
    """Conditions ``column IN (...)``, at most IDS_PER_QUERY ids each (one query per condition)."""
    ordered = sorted({int(i) for i in ids})
    return [f'"{column}" IN ({", ".join(map(str, ordered[i:i + IDS_PER_QUERY]))})'
            for i in range(0, len(ordered), IDS_PER_QUERY)]


def of_ids(rows, column, ids):
    """The rows whose ``column`` is one of ``ids``."""
    return rows.filter(pc.is_in(rows[column], pa.array(sorted({int(i) for i in ids}), rows.schema.field(column).type)))


def current_rows(rows, primary_key, columns):
    """The newest version (highest apdbVersion) of each primary key, as ``columns``; keys whose
    newest version is a deletion or a move (MOVED/DELETED column true) are left out. A move and
    the row's new version are written together: the move ranks below."""
    markers = [name for name in (MOVED_COLUMN, DELETED_COLUMN) if name in rows.column_names]
    order = [f'"{VERSION_COLUMN}" DESC', *(f'coalesce("{m}", false)' for m in markers)]
    newest = (f"SELECT *, row_number() OVER (PARTITION BY {_names(primary_key)} "
              f"ORDER BY {', '.join(order)}) AS newest FROM rows_read")
    kept = " AND ".join(["newest = 1", *(f'NOT coalesce("{m}", false)' for m in markers)])
    return _run(rows, columns, f"SELECT {_names(columns)} FROM ({newest}) WHERE {kept}")


def latest_objects(rows, columns):
    """The current DiaObjects: the newest version of each (diaObjectId, validityStartMjdTai),
    then each object's latest validity interval, if it is still open."""
    current = current_rows(rows, ["diaObjectId", "validityStartMjdTai"], [*columns, VERSION_COLUMN])
    latest = _reduce(current, [*columns, VERSION_COLUMN],
                     'QUALIFY row_number() OVER (PARTITION BY "diaObjectId" '
                     'ORDER BY "validityStartMjdTai" DESC) = 1')
    return _reduce(latest, columns, '"validityEndMjdTai" IS NULL' if "validityEndMjdTai" in columns else "")


def _reduce(rows, columns, clause):
    if clause and not clause.startswith("QUALIFY"):
        clause = f"WHERE {clause}"
    return _run(rows, columns, f"SELECT {_names(columns)} FROM rows_read {clause}")


def _run(rows, columns, statement):
    """``statement`` over ``rows`` (named rows_read), typed as ``rows``' ``columns``."""
    connection = duckdb.connect()
    try:
        connection.register("rows_read", rows)
        result = connection.sql(statement).to_arrow_table()
    finally:
        connection.close()
    return result.cast(pa.schema([rows.schema.field(name) for name in columns]))


def _names(columns):
    return ", ".join(f'"{name}"' for name in columns)


def _number(value):
    return repr(float(value))
