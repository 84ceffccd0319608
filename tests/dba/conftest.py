"""Instances for the DBA tests: 3 workers of the parametrised backend, a director table (with
overlap), a child table and a replicated table, and the same rows in one unsharded DuckDB."""

import duckdb
import numpy as np
import pyarrow as pa
import pytest

import qserv
from qserv.meta.admin import TableSpec
from qserv.schema.columns import Column
from qserv.sql.worker_functions import function_sql

OBJECTS = 4000
SOURCES = 8000
OBJECT_COLUMNS = [Column("objectId", "long", False), Column("ra", "double", False),
                  Column("decl", "double", False), Column("mag", "double"), Column("band", "string")]
SOURCE_COLUMNS = [Column("sourceId", "long", False), Column("objectId", "long", False), Column("flux", "double")]
FILTER_COLUMNS = [Column("band", "string", False), Column("wavelength", "double")]


def datasets():
    rng = np.random.default_rng(17)
    objects = pa.table({
        "objectId": np.arange(OBJECTS, dtype=np.int64), "ra": rng.uniform(0, 360, OBJECTS),
        "decl": np.degrees(np.arcsin(rng.uniform(-1, 1, OBJECTS))),
        "mag": pa.array(rng.normal(20, 1, OBJECTS), mask=rng.uniform(size=OBJECTS) < 0.05),
        "band": rng.choice(["g", "r", "i"], OBJECTS)})
    sources = pa.table({"sourceId": np.arange(SOURCES, dtype=np.int64),
                        "objectId": rng.integers(0, OBJECTS, SOURCES), "flux": rng.lognormal(0, 1, SOURCES)})
    filters = pa.table({"band": ["g", "r", "i"], "wavelength": [477.0, 623.0, 763.0]})
    return {"Object": objects, "Source": sources, "Filter": filters}


def load(home, replication=1):
    data = datasets()
    with qserv.open(home) as engine:
        engine.create_database("sky", chunk_order=1, subchunk_order=4, overlap_arcsec=60.0, replication=replication)
        engine.create_table("sky.Object", TableSpec("director", OBJECT_COLUMNS, id_column="objectId",
                                                    ra_column="ra", dec_column="decl"))
        engine.create_table("sky.Source", TableSpec("child", SOURCE_COLUMNS, director="sky.Object",
                                                    director_key="objectId"))
        engine.create_table("sky.Filter", TableSpec("replicated", FILTER_COLUMNS))
        for name, rows in data.items():
            engine.ingest(f"sky.{name}", [rows])


@pytest.fixture(params=["duckdb", "postgres"])
def backend(request):
    return request.param


@pytest.fixture
def home(backend, tmp_path, new_instance):
    """A loaded instance with 3 workers, replication 1."""
    new_instance(tmp_path / "home", backend, 3)
    load(tmp_path / "home")
    return tmp_path / "home"


@pytest.fixture(scope="session")
def reference():
    connection = duckdb.connect()
    connection.execute("CREATE SCHEMA sky")
    for name, rows in datasets().items():
        connection.register(f"_{name}", rows)
        connection.execute(f'CREATE TABLE sky."{name}" AS SELECT * FROM _{name}')
    for statement in function_sql("duckdb"):
        connection.execute(statement)
    yield connection
    connection.close()


QUERIES = [
    "SELECT COUNT(*) AS n, SUM(mag) AS s, MIN(decl) AS lo, MAX(ra) AS hi FROM sky.Object",
    "SELECT band, COUNT(*) AS n, AVG(mag) AS m FROM sky.Object GROUP BY band ORDER BY band",
    "SELECT COUNT(*) AS n FROM sky.Object WHERE CONTAINS(POINT(ra, decl), CIRCLE(40, 20, 30)) = 1",
    "SELECT TOP 5 objectId, mag FROM sky.Object WHERE mag > 21 ORDER BY objectId",
    "SELECT COUNT(*) AS n, SUM(s.flux) AS f FROM sky.Object AS o JOIN sky.Source AS s "
    "ON o.objectId = s.objectId WHERE o.decl > 10",
    "SELECT f.wavelength, COUNT(*) AS n FROM sky.Object AS o JOIN sky.Filter AS f ON o.band = f.band "
    "GROUP BY f.wavelength ORDER BY f.wavelength",
    "SELECT objectId, ra FROM sky.Object WHERE objectId IN (3, 777, 3999)",
]


def _rounded(value):
    return round(value, 6) if isinstance(value, float) else value


def rows_of(table):
    return sorted(tuple(_rounded(v) for v in row.values()) for row in table.to_pylist())


def check_queries(engine, reference):
    """Every query of QUERIES answers as the unsharded reference; the mismatches (none: [])."""
    wrong = []
    for text in QUERIES:
        got = rows_of(engine.query(text))
        want = rows_of(reference.sql(engine.reference_sql(text)).to_arrow_table())
        if got != want:
            wrong.append((text, got[:3], want[:3]))
    return wrong
