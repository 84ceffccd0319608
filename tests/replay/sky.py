"""Small deterministic rows for the replay tests: a director ``r.Obj`` (id, ra, dec, mag, band) in
a 10x10 degree field, and queries over it whose answers numpy computes (cones, lookups,
aggregates)."""

import numpy as np
import pyarrow as pa

from qserv.meta.admin import TableSpec
from qserv.schema.columns import Column

DATABASE = "r"
TABLE = f"{DATABASE}.Obj"
SPEC = TableSpec(kind="director", columns=[
    Column("id", "long", nullable=False), Column("ra", "double", nullable=False),
    Column("dec", "double", nullable=False), Column("mag", "double"), Column("band", "string")],
    id_column="id", ra_column="ra", dec_column="dec")


def rows(first_id, count, seed):
    rng = np.random.default_rng(seed)
    return pa.table({"id": np.arange(first_id, first_id + count, dtype=np.int64),
                     "ra": rng.uniform(0.0, 10.0, count), "dec": rng.uniform(-5.0, 5.0, count),
                     "mag": np.round(rng.normal(20.0, 1.5, count), 3),
                     "band": rng.choice(["g", "r", "i"], count)})


def create(engine, count=2000, seed=1):
    engine.create_database(DATABASE, chunk_order=5, overlap_arcsec=30.0)
    engine.create_table(TABLE, SPEC)
    engine.ingest(TABLE, [rows(0, count, seed)])
    engine.publish(DATABASE)


def cone(ra, dec, radius):
    return (f"SELECT id, ra, dec, mag FROM {TABLE} "
            f"WHERE CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', {ra}, {dec}, {radius})) = 1")


def queries(seed=7, cones=12, lookups=6):
    """(text, kind, parameters) of cones, id lookups and aggregates."""
    rng = np.random.default_rng(seed)
    found = [(cone(round(ra, 3), round(dec, 3), 0.5), "cone", (ra, dec, 0.5))
             for ra, dec in zip(rng.uniform(1, 9, cones), rng.uniform(-4, 4, cones))]
    found += [(f"SELECT id, mag, band FROM {TABLE} WHERE id = {i}", "lookup", (int(i),))
              for i in rng.integers(0, 2000, lookups)]
    found += [(f"SELECT band, COUNT(*) AS n, AVG(mag) AS mean_mag FROM {TABLE} GROUP BY band", "aggregate", ()),
              (f"SELECT COUNT(*) AS n FROM {TABLE} WHERE mag < 19", "aggregate", ())]
    return found


def reads(kind, parameters, row):
    """Whether a query's answer depends on ``row`` (a dict with ra, dec, id, mag), brute force."""
    if kind == "cone":
        ra, dec, radius = parameters
        a, b = np.radians([row["ra"], row["dec"]]), np.radians([ra, dec])
        cos = np.sin(a[1]) * np.sin(b[1]) + np.cos(a[1]) * np.cos(b[1]) * np.cos(a[0] - b[0])
        return np.degrees(np.arccos(min(1.0, cos))) <= radius
    if kind == "lookup":
        return row["id"] == parameters[0]
    return True
