"""Test rows for the APDB tables: the given columns, and zeros in the other non-nullable ones."""

from astropy.time import Time
import numpy as np
import pyarrow as pa

from qserv.schema.types import arrow_type


def rows(apdb, table_name, **columns):
    """A pyarrow.Table for ``table_name`` of ``apdb`` with ``columns`` (name -> sequence) and
    zeros in every other non-nullable Felis column."""
    count = len(next(iter(columns.values())))
    data = {}
    for column in apdb.tables[table_name].columns:
        if column.name in columns:
            data[column.name] = pa.array(columns[column.name], type=arrow_type(column))
        elif not column.nullable and column.name != "validityStartMjdTai":
            data[column.name] = pa.array(np.zeros(count), type=arrow_type(column))
    return pa.table(data)


def objects(apdb, ids, ra, dec):
    return rows(apdb, "DiaObject", diaObjectId=ids, ra=ra, dec=dec)


def sources(apdb, ids, object_ids, ra, dec, visit, detector, mjd_tai):
    count = len(ids)
    return rows(apdb, "DiaSource", diaSourceId=ids, diaObjectId=object_ids, ra=ra, dec=dec,
                visit=[visit] * count, detector=[detector] * count, midpointMjdTai=[mjd_tai] * count)


def forced_sources(apdb, object_ids, ra, dec, visit, detector, mjd_tai):
    count = len(object_ids)
    return rows(apdb, "DiaForcedSource", diaForcedSourceId=[visit * 100000 + i for i in range(count)],
                diaObjectId=object_ids, ra=ra, dec=dec, visit=[visit] * count,
                detector=[detector] * count, midpointMjdTai=[mjd_tai] * count)


def store_visit(apdb, visit):
    """Store a visit: 200 new objects (ids from visit * 1000), their sources and forced sources."""
    rng = np.random.default_rng(visit)
    ids = visit * 1000 + np.arange(200)
    ra, dec = 30.0 + rng.uniform(-0.3, 0.3, ids.size), -10.0 + rng.uniform(-0.3, 0.3, ids.size)
    mjd = 60000.0 + visit
    return apdb.store(Time(mjd, format="mjd", scale="tai"), objects(apdb, ids, ra, dec),
                      sources(apdb, ids, ids, ra, dec, visit, 9, mjd),
                      forced_sources(apdb, ids, ra, dec, visit, 9, mjd))
