"""The rows of the differential corpus: database ``sky``, deterministic (numpy seeds).

``build_sharded(engine)`` creates the database and its tables in a qserv instance and ingests
every table; ``build_unsharded(connection)`` loads the same rows into one plain DuckDB connection
as ``sky."Object"`` etc., with the column types the workers use (``qserv.schema.types``).

The director ``Object`` mixes uniform positions on the sphere with dense clusters where sharding
goes wrong first: around RA 0/360 on the equator, within 1 degree of both poles, and around a few
corners of HEALPix order-4 pixels (the chunks of ``sky``), plus exact RA 0, RA 360 and Dec +-90.
"""

import functools

import healpy
import numpy as np
import pyarrow as pa
from astropy import units as u
from astropy.coordinates import SkyCoord

from qserv.meta.admin import TableSpec
from qserv.schema.columns import Column
from qserv.schema.types import arrow_type, duckdb_type

DATABASE = "sky"
CHUNK_ORDER = 4
SUBCHUNK_ORDER = 7
OVERLAP_ARCSEC = 300.0
NSIDE = 2 ** CHUNK_ORDER
# (nested pixel at order 4, corner index 0..3) whose corner gets a cluster of objects.
CLUSTER_CORNERS = ((0, 0), (1000, 1), (1500, 2), (2047, 3), (2600, 0), (3071, 2))
CORNER_RADIUS_DEG = 0.3

TABLES = {
    "Object": TableSpec(
        kind="director",
        columns=[Column("objectId", "long", nullable=False), Column("ra", "double", nullable=False),
                 Column("decl", "double", nullable=False), Column("gMag", "double"),
                 Column("rMag", "float"), Column("flags", "int"), Column("name", "string"),
                 Column("kind", "string")],
        id_column="objectId", ra_column="ra", dec_column="decl"),
    "Source": TableSpec(
        kind="child",
        columns=[Column("sourceId", "long", nullable=False), Column("objectId", "long", nullable=False),
                 Column("visitId", "long"), Column("filterId", "int"), Column("psfFlux", "double"),
                 Column("mjd", "double")],
        director=f"{DATABASE}.Object", director_key="objectId"),
    "DiaSource": TableSpec(
        kind="child",
        columns=[Column("diaSourceId", "long", nullable=False), Column("objectId", "long"),
                 Column("ra", "double", nullable=False), Column("decl", "double", nullable=False),
                 Column("snr", "double")],
        director=f"{DATABASE}.Object", director_key="objectId", ra_column="ra", dec_column="decl"),
    "Filter": TableSpec(
        kind="replicated",
        columns=[Column("filterId", "int", nullable=False), Column("filterName", "string"),
                 Column("wavelength_nm", "double")]),
    "Visit": TableSpec(
        kind="time",
        columns=[Column("visitId", "long", nullable=False), Column("mjd", "double", nullable=False),
                 Column("filterId", "int"), Column("airmass", "double")],
        partition_column="mjd", bucket_days=1.0),
    "Event": TableSpec(
        kind="hash",
        columns=[Column("eventKey", "string", nullable=False), Column("payload", "long"),
                 Column("value", "double")],
        partition_column="eventKey", bucket_count=8),
}
# Load order: directors before their children.
ORDER = ("Object", "Source", "DiaSource", "Filter", "Visit", "Event")
# A dependent table placed by its director's position (Qserv's Source with raObject/declObject).
TABLES["PosSource"] = TableSpec(
    kind="child",
    columns=[Column("posSourceId", "long", nullable=False), Column("objectId", "long"),
             Column("raObject", "double", nullable=False), Column("declObject", "double", nullable=False),
             Column("flux", "double")],
    director=f"{DATABASE}.Object", director_key="objectId", ra_column="raObject", dec_column="declObject",
    director_position=True)
ORDER += ("PosSource",)
# A second director and a match table relating it to Object (Qserv's RefObject and RefDeepSrcMatch).
TABLES["RefObject"] = TableSpec(
    kind="director",
    columns=[Column("refObjectId", "long", nullable=False), Column("ra", "double", nullable=False),
             Column("decl", "double", nullable=False), Column("mag", "double")],
    id_column="refObjectId", ra_column="ra", dec_column="decl")
TABLES["RefMatch"] = TableSpec(
    kind="match",
    columns=[Column("refObjectId", "long"), Column("objectId", "long"), Column("angSep", "double")],
    director=f"{DATABASE}.RefObject", director_key="refObjectId", director2=f"{DATABASE}.Object",
    director2_key="objectId")
ORDER += ("RefObject", "RefMatch")
NAMES = ("alpha", "Vega", "Sirius", "O'Brien's star", "M31 \"Andromeda\"", "Ærø", "βeta Cen",
         "天狼星", "naïve", "NGC_1300", "tab\tname", "100% sure", "  padded  ", "")
KINDS = ("star", "galaxy", "qso", "unknown")
FILTERS = (("u", 367.0), ("g", 482.0), ("r", 622.0), ("i", 755.0), ("z", 869.0), ("y", 971.0))


def _sphere(rng, n, dec_min=-90.0, dec_max=90.0, ra_min=0.0, ra_max=360.0):
    """Uniform points on the sphere within RA/Dec bounds."""
    z = rng.uniform(np.sin(np.radians(dec_min)), np.sin(np.radians(dec_max)), n)
    return rng.uniform(ra_min, ra_max, n), np.degrees(np.arcsin(z))


def _around(rng, ra0, dec0, radius_deg, n):
    """Points uniform in a small cap around (ra0, dec0), wrapped into RA [0, 360)."""
    r = np.radians(radius_deg) * np.sqrt(rng.uniform(0, 1, n))
    phi = rng.uniform(0, 2 * np.pi, n)
    # Offsets in the tangent plane, rotated to (ra0, dec0).
    x, y = r * np.cos(phi), r * np.sin(phi)
    a0, d0 = np.radians(ra0), np.radians(dec0)
    rho = np.hypot(x, y)
    c = np.arctan(rho)
    with np.errstate(invalid="ignore", divide="ignore"):
        dec = np.arcsin(np.cos(c) * np.sin(d0) + np.where(rho > 0, y * np.sin(c) * np.cos(d0) / rho, 0))
    ra = a0 + np.arctan2(x * np.sin(c), rho * np.cos(d0) * np.cos(c) - y * np.sin(d0) * np.sin(c))
    return np.degrees(ra) % 360.0, np.clip(np.degrees(dec), -90.0, 90.0)


def corner_positions():
    """(ra, dec) of the HEALPix order-4 pixel corners used for clusters."""
    out = []
    for pixel, corner in CLUSTER_CORNERS:
        vectors = healpy.boundaries(NSIDE, pixel, step=1, nest=True)  # (3, 4)
        theta, phi = healpy.vec2ang(vectors[:, corner])
        out.append((float(np.degrees(phi[0]) % 360.0), float(90.0 - np.degrees(theta[0]))))
    return out


def _positions():
    rng = np.random.default_rng(20240601)
    parts = [_sphere(rng, 1900)]
    # RA 0/360 on the equator: ra in [359.5, 360) U [0, 0.5], |dec| <= 0.5
    ra, dec = _sphere(rng, 220, -0.5, 0.5, -0.5, 0.5)
    parts.append((ra % 360.0, dec))
    # The poles: within 1 degree of each
    parts.append(_sphere(rng, 160, 89.0, 90.0))
    parts.append(_sphere(rng, 160, -90.0, -89.0))
    # Chunk corners
    for ra0, dec0 in corner_positions():
        parts.append(_around(rng, ra0, dec0, CORNER_RADIUS_DEG, 70))
    # Close pairs straddling RA 0 and across the poles (for near-neighbour joins)
    special_ra = [0.0, 0.0, 360.0, 0.0, 180.0, 359.99, 0.01, 45.0, 225.0, 359.999, 0.0005, 90.0, 270.0]
    special_dec = [0.0, 90.0, 10.0, -45.0, -90.0, 89.99, 89.99, 89.995, 89.995, -0.01, 0.01, -89.996, -89.996]
    parts.append((np.array(special_ra), np.array(special_dec)))
    ra = np.concatenate([p[0] for p in parts])
    dec = np.concatenate([p[1] for p in parts])
    return ra, dec


@functools.cache
def tables():
    """{table name: pyarrow.Table} of every table of ``sky`` (the same objects on every call)."""
    rng = np.random.default_rng(7)
    ra, dec = _positions()
    n = len(ra)
    object_ids = np.arange(1, n + 1, dtype=np.int64) * 10 + 1000  # sparse ids: 1010, 1020, ...
    g_mag = np.round(rng.uniform(14.0, 26.0, n), 6)
    r_mag = (g_mag - rng.uniform(-0.5, 1.5, n)).astype(np.float32)
    g_mag_null = rng.uniform(0, 1, n) < 0.1
    flags = rng.integers(0, 64, n).astype(np.int32)
    flags_null = rng.uniform(0, 1, n) < 0.05
    names = [None if rng.uniform() < 0.2 else (NAMES[i % len(NAMES)] if i % 3 == 0 else f"obj-{i:05d}")
             for i in range(n)]
    kinds = [KINDS[k] for k in rng.choice(len(KINDS), n, p=[0.5, 0.35, 0.1, 0.05])]
    objects = pa.table({
        "objectId": pa.array(object_ids, pa.int64()),
        "ra": pa.array(ra, pa.float64()),
        "decl": pa.array(dec, pa.float64()),
        "gMag": pa.array(g_mag, pa.float64(), mask=g_mag_null),
        "rMag": pa.array(r_mag, pa.float32()),
        "flags": pa.array(flags, pa.int32(), mask=flags_null),
        "name": pa.array(names, pa.string()),
        "kind": pa.array(kinds, pa.string()),
    })

    # Visits: ~200 over 30 nights, a few per night, between 0.05 and 0.45 day into the night.
    visit_nights = np.sort(rng.integers(0, 30, 200))
    visit_mjd = 60000.0 + visit_nights + np.round(rng.uniform(0.05, 0.45, 200), 6)
    visit_mjd[:2] = [60000.0, 60001.0]  # exactly on bucket boundaries
    visit_mjd = np.sort(visit_mjd)
    visit_ids = np.arange(200, dtype=np.int64) + 500_000
    visit_filters = rng.integers(0, 6, 200).astype(np.int32)
    visits = pa.table({
        "visitId": pa.array(visit_ids, pa.int64()),
        "mjd": pa.array(visit_mjd, pa.float64()),
        "filterId": pa.array(visit_filters, pa.int32()),
        "airmass": pa.array(np.round(rng.uniform(1.0, 2.2, 200), 4), pa.float64()),
    })

    # Sources: 1-5 per object for about half of the objects.
    with_sources = np.flatnonzero(rng.uniform(0, 1, n) < 0.5)
    counts = rng.integers(1, 6, len(with_sources))
    source_objects = np.repeat(object_ids[with_sources], counts)
    m = len(source_objects)
    source_visits = rng.integers(0, 200, m)
    psf_flux = rng.normal(2000.0, 1500.0, m)
    psf_null = rng.uniform(0, 1, m) < 0.08
    sources = pa.table({
        "sourceId": pa.array(np.arange(m, dtype=np.int64) + 9_000_000, pa.int64()),
        "objectId": pa.array(source_objects, pa.int64()),
        "visitId": pa.array(visit_ids[source_visits], pa.int64()),
        "filterId": pa.array(visit_filters[source_visits], pa.int32()),
        "psfFlux": pa.array(psf_flux, pa.float64(), mask=psf_null),
        "mjd": pa.array(visit_mjd[source_visits], pa.float64()),
    })

    # DiaSources: near objects (within ~2 arcsec), a fifth of them unassociated (NULL objectId).
    k = 1500
    parents = rng.choice(n, k)
    d_ra, d_dec = [], []
    for index in parents:
        a, d = _around(rng, ra[index], dec[index], 2.0 / 3600.0, 1)
        d_ra.append(a[0])
        d_dec.append(d[0])
    unassociated = rng.uniform(0, 1, k) < 0.2
    dia_ids = np.where(unassociated, 0, object_ids[parents])
    dia = pa.table({
        "diaSourceId": pa.array(np.arange(k, dtype=np.int64) + 7_000_000_000, pa.int64()),
        "objectId": pa.array(dia_ids, pa.int64(), mask=unassociated),
        "ra": pa.array(d_ra, pa.float64()),
        "decl": pa.array(d_dec, pa.float64()),
        "snr": pa.array(np.round(rng.lognormal(2.0, 1.0, k), 6), pa.float64()),
    })

    filters = pa.table({
        "filterId": pa.array(range(6), pa.int32()),
        "filterName": pa.array([f for f, _ in FILTERS], pa.string()),
        "wavelength_nm": pa.array([w for _, w in FILTERS], pa.float64()),
    })

    e = 300
    event_values = np.round(rng.normal(0.0, 10.0, e), 6)
    events = pa.table({
        "eventKey": pa.array([f"evt-{i:04d}" if i % 10 else f"EVT/{i}" for i in range(e)], pa.string()),
        "payload": pa.array(rng.integers(-1000, 1000, e), pa.int64(), mask=rng.uniform(0, 1, e) < 0.1),
        "value": pa.array(event_values, pa.float64(), mask=rng.uniform(0, 1, e) < 0.05),
    })
    result = {"Object": objects, "Source": sources, "DiaSource": dia, "Filter": filters,
              "Visit": visits, "Event": events}
    result["PosSource"] = _position_sources(objects)
    result["RefObject"], result["RefMatch"] = _references(objects)
    for name, table in result.items():  # the exact Arrow types of the schema
        schema = pa.schema([pa.field(c.name, arrow_type(c), c.nullable) for c in TABLES[name].columns])
        result[name] = table.cast(schema)
    return result


def _position_sources(objects):
    """PosSource: 1-3 rows at the position of a third of the objects, and rows whose objectId
    matches no object (ids between the objects', or NULL) at positions of their own."""
    rng = np.random.default_rng(16)
    n = objects.num_rows
    parents = np.flatnonzero(rng.uniform(0, 1, n) < 0.33)
    parents = np.repeat(parents, rng.integers(1, 4, len(parents)))
    orphans = 120
    ra, dec = _sphere(rng, orphans)
    ids = np.concatenate([objects["objectId"].to_numpy()[parents], 1005 + 10 * rng.integers(0, n, orphans)])
    return pa.table({
        "posSourceId": pa.array(np.arange(len(ids), dtype=np.int64) + 3_000_000, pa.int64()),
        "objectId": pa.array(ids, pa.int64(), mask=np.arange(len(ids)) >= len(ids) - 20),
        "raObject": pa.array(np.concatenate([objects["ra"].to_numpy()[parents], ra]), pa.float64()),
        "declObject": pa.array(np.concatenate([objects["decl"].to_numpy()[parents], dec]), pa.float64()),
        "flux": pa.array(np.round(rng.normal(100.0, 30.0, len(ids)), 6), pa.float64()),
    })


def _references(objects):
    """RefObject: within 3" of 40% of the objects (those at chunk corners and poles among them),
    and 200 elsewhere; RefMatch: the pairs, with rows of unmatched references (NULL objectId)."""
    rng = np.random.default_rng(161)
    n = objects.num_rows
    matched = np.flatnonzero(rng.uniform(0, 1, n) < 0.4)
    ra, dec = objects["ra"].to_numpy(), objects["decl"].to_numpy()
    near = [_around(rng, ra[i], dec[i], 3.0 / 3600.0, 1) for i in matched]
    alone_ra, alone_dec = _sphere(rng, 200)
    ref_ra = np.concatenate([[p[0][0] for p in near], alone_ra])
    ref_dec = np.concatenate([[p[1][0] for p in near], alone_dec])
    ref_ids = np.arange(len(ref_ra), dtype=np.int64) + 600_000
    refs = pa.table({"refObjectId": pa.array(ref_ids), "ra": pa.array(ref_ra), "decl": pa.array(ref_dec),
                     "mag": pa.array(np.round(rng.uniform(12.0, 22.0, len(ref_ids)), 6))})
    unmatched = ref_ids[len(matched):len(matched) + 50]
    separation = SkyCoord(ref_ra[:len(matched)] * u.deg, ref_dec[:len(matched)] * u.deg).separation(
        SkyCoord(ra[matched] * u.deg, dec[matched] * u.deg)).arcsec
    match = pa.table({
        "refObjectId": pa.array(np.concatenate([ref_ids[:len(matched)], unmatched])),
        "objectId": pa.array(np.concatenate([objects["objectId"].to_numpy()[matched], np.zeros(len(unmatched), np.int64)]),
                             mask=np.arange(len(matched) + len(unmatched)) >= len(matched)),
        "angSep": pa.array(np.concatenate([np.round(separation, 9), np.full(len(unmatched), np.nan)])),
    })
    return refs, match


def build_sharded(engine, replication=1):
    """Create ``sky`` with every table in the instance of ``engine``, ingest the rows, publish."""
    engine.create_database(DATABASE, chunk_order=CHUNK_ORDER, subchunk_order=SUBCHUNK_ORDER,
                           overlap_arcsec=OVERLAP_ARCSEC, replication=replication)
    data = tables()
    for name in ORDER:
        engine.create_table(f"{DATABASE}.{name}", TABLES[name])
        engine.ingest(f"{DATABASE}.{name}", [data[name]])
    engine.publish(DATABASE)


def build_unsharded(connection):
    """The same rows as schema-qualified tables ``sky."Object"`` etc. of one DuckDB connection."""
    connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{DATABASE}"')
    data = tables()
    for name in ORDER:
        columns = ", ".join(f'"{c.name}" {duckdb_type(c)}{"" if c.nullable else " NOT NULL"}'
                            for c in TABLES[name].columns)
        connection.execute(f'CREATE TABLE "{DATABASE}"."{name}" ({columns})')
        view = f"_slt_{name.lower()}"
        connection.register(view, data[name])
        connection.execute(f'INSERT INTO "{DATABASE}"."{name}" SELECT * FROM {view}')
        connection.unregister(view)
