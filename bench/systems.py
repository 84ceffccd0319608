"""The systems of the peer comparison, each holding the same rows: qserv with DuckDB workers,
qserv with PostgreSQL workers, one unsharded DuckDB table, PostgreSQL + Q3C and LSDB/HATS.

Every system loads three tables (``Object`` director, ``Source`` child, ``Match`` the smaller
director crossmatched with ``Object``) and answers the workloads of bench/scaling.py:

- ``cone(ra, dec, radius_deg)``: id, ra, dec, flux_0 of the rows within the circle (row count);
- ``lookup(object_id)``: every column of one director row;
- ``scan()``: ``COUNT(*), AVG(flux_0) WHERE flux_1 > 1.5`` over the director table;
- ``grouped_scan()``: ``GROUPED_SQL`` (a filter and a GROUP BY over 50 groups), as ``grouped_answer``;
- ``crossmatch(radius_deg)``: the number of (Match, Object) pairs closer than the radius;
- ``child_cone(ra, dec, radius_deg)``: director rows in a circle joined with their children;
- ``cone_client()``: a cone function for one thread of the concurrent workload.

A method a system cannot run is absent (``hasattr`` tells). ``load`` returns the seconds each
table took, ``close`` releases everything (temporary PostgreSQL databases are dropped).
"""

import io
import shutil
import warnings
import time
import uuid
from pathlib import Path

import duckdb
import psycopg2
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

import qserv
from qserv.instance import init_instance
from qserv.meta.admin import TableSpec
from qserv.schema.infer import columns_from_parquet

PG_SERVER = "host=127.0.0.1 port=5432 user=postgres connect_timeout=10"
SCAN_FILTER = 1.5
# the form: SELECT flag, COUNT(*), AVG(gmag) ... WHERE rmag > 18 GROUP BY flag (nsrc: 50 values)
GROUPED_SQL = "SELECT nsrc, COUNT(*), AVG(mag_g) FROM {table} WHERE mag_r > 18 GROUP BY nsrc"
CONE_COLUMNS = "id, ra, dec, flux_0"


def grouped_answer(rows):
    """(groups, counts..., averages...) of (group, count, average) rows, in group order: the
    form every system's GROUP BY answer is compared in."""
    rows = sorted((int(g), int(c), float(a)) for g, c, a in rows)
    return (len(rows),) + tuple(c for _, c, _ in rows) + tuple(a for _, _, a in rows)


def _seconds(run):
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


class PostgresDatabases:
    """Uniquely named databases on the local server, all dropped by ``drop_all``."""

    def __init__(self):
        self.names = []

    def create(self, prefix):
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        admin = psycopg2.connect(f"{PG_SERVER} dbname=postgres")
        try:
            admin.autocommit = True
            with admin.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            admin.close()
        self.names.append(name)
        return f"{PG_SERVER} dbname={name}"

    def drop_all(self):
        if not self.names:
            return
        admin = psycopg2.connect(f"{PG_SERVER} dbname=postgres")
        try:
            admin.autocommit = True
            with admin.cursor() as cursor:
                for name in self.names:
                    cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            admin.close()
        self.names = []


# -- qserv ------------------------------------------------------------------------------------------

class Qserv:
    """qserv on 4 workers (DuckDB files, or PostgreSQL databases on the local server)."""

    POSTGRES_NAME = "qserv (PostgreSQL workers)"

    def __init__(self, root, backend="duckdb", workers=4, chunk_order=4, subchunk_order=9,
                 overlap_arcsec=60.0, databases=None):
        self.name = f"qserv order {chunk_order}" if backend == "duckdb" else self.POSTGRES_NAME
        self.backend = backend
        self.home = Path(root) / f"qserv-{backend}-{chunk_order}"
        self.databases = databases
        if backend == "postgres":
            init_instance(self.home, backend="postgres",
                          worker_dsns=[databases.create("qserv_bench_worker") for _ in range(workers)])
        else:
            init_instance(self.home, workers=workers)
        self.engine = qserv.open(self.home)
        self.engine.create_database("bench", chunk_order=chunk_order, subchunk_order=subchunk_order,
                                    overlap_arcsec=overlap_arcsec)

    def load(self, paths):
        specs = {
            "Object": dict(kind="director", id_column="id", ra_column="ra", dec_column="dec"),
            "Source": dict(kind="child", director="Object", director_key="objectId"),
            "Match": dict(kind="director", id_column="id", ra_column="ra", dec_column="dec"),
        }
        seconds = {}
        for table, path in paths.items():
            self.engine.create_table(f"bench.{table}", TableSpec(columns=columns_from_parquet(path), **specs[table]))
            seconds[table] = _seconds(lambda: self.engine.ingest(f"bench.{table}", [path]))
        return seconds

    def _query(self, text):
        return self.engine.query(text, db="bench")

    def cone(self, ra, dec, radius_deg):
        return self._query(f"SELECT {CONE_COLUMNS} FROM Object WHERE "
                           f"CONTAINS(POINT('ICRS', ra, dec), CIRCLE('ICRS', {ra!r}, {dec!r}, {radius_deg!r})) = 1").num_rows

    def cone_client(self):
        return self.cone  # one Engine, shared by every thread

    def lookup(self, object_id):
        return self._query(f"SELECT * FROM Object WHERE id = {int(object_id)}").num_rows

    def scan(self):
        result = self._query(f"SELECT COUNT(*), AVG(flux_0) FROM Object WHERE flux_1 > {SCAN_FILTER}")
        return tuple(column[0].as_py() for column in result.columns)

    def grouped_scan(self):
        return grouped_answer(zip(*(c.to_pylist() for c in self._query(GROUPED_SQL.format(table="Object")).columns)))

    def crossmatch(self, radius_deg):
        result = self._query("SELECT COUNT(*) FROM Match AS m, Object AS o WHERE "
                             "DISTANCE(POINT('ICRS', m.ra, m.dec), POINT('ICRS', o.ra, o.dec)) < "
                             f"{radius_deg!r}")
        return result.column(0)[0].as_py()

    def child_cone(self, ra, dec, radius_deg):
        return self._query("SELECT o.id, s.sourceId, s.psfFlux FROM Object AS o JOIN Source AS s "
                           "ON s.objectId = o.id WHERE CONTAINS(POINT('ICRS', o.ra, o.dec), "
                           f"CIRCLE('ICRS', {ra!r}, {dec!r}, {radius_deg!r})) = 1").num_rows

    def close(self):
        self.engine.close()


# -- one unsharded DuckDB table ---------------------------------------------------------------------

DUCKDB_DISTANCE = ("degrees(2 * asin(sqrt(pow(sin(radians({d2} - {d1}) / 2), 2) + cos(radians({d1})) * "
                   "cos(radians({d2})) * pow(sin(radians({r2} - {r1}) / 2), 2))))")


def duckdb_zones_sql(radius_deg):
    """Crossmatch by declination zones (zone height = radius): each match row is joined with the
    object rows of its zone and the two next to it, within an RA window widened by 1/cos(dec)
    (objects near RA 0/360 are repeated shifted by 360 degrees), then the exact distance."""
    r = repr(radius_deg)
    distance = DUCKDB_DISTANCE.format(r1="m.ra", d1="m.dec", r2="o.ra", d2="o.dec")
    return f"""
WITH m AS (
    SELECT id, ra, dec, CAST(floor((dec + 90) / {r}) AS BIGINT) AS zone,
           CASE WHEN abs(dec) + {r} >= 89.99 THEN 180.0
                ELSE {r} / cos(radians(abs(dec) + {r})) + 1e-9 END AS alpha
    FROM match),
o AS (
    SELECT id, ra, dec, CAST(floor((dec + 90) / {r}) AS BIGINT) AS zone FROM objects
    UNION ALL SELECT id, ra + 360, dec, CAST(floor((dec + 90) / {r}) AS BIGINT) FROM objects WHERE ra < 180
    UNION ALL SELECT id, ra - 360, dec, CAST(floor((dec + 90) / {r}) AS BIGINT) FROM objects WHERE ra >= 180),
mz AS (SELECT m.*, m.zone + dz AS join_zone FROM m, (VALUES (-1), (0), (1)) AS z(dz))
SELECT COUNT(*) FROM (
    SELECT DISTINCT m.id AS mid, o.id AS oid
    FROM mz AS m JOIN o ON o.zone = m.join_zone
    WHERE o.ra BETWEEN m.ra - m.alpha AND m.ra + m.alpha
      AND o.dec BETWEEN m.dec - {r} AND m.dec + {r}
      AND {distance} < {r})"""


class DuckDBTable:
    """One DuckDB file: ``objects`` sorted by dec (so a dec band prunes row groups) with an ART
    index on id, ``sources`` with an index on objectId, ``match``."""

    name = "DuckDB unsharded"

    def __init__(self, root):
        self.path = Path(root) / "unsharded.duckdb"
        self.connection = duckdb.connect(str(self.path))

    def load(self, paths):
        statements = {
            "Object": ["CREATE TABLE objects AS SELECT * FROM read_parquet('{path}') ORDER BY dec",
                       "CREATE INDEX objects_id ON objects (id)"],
            "Source": ["CREATE TABLE sources AS SELECT * FROM read_parquet('{path}') ORDER BY objectId",
                       "CREATE INDEX sources_object ON sources (objectId)"],
            "Match": ["CREATE TABLE match AS SELECT * FROM read_parquet('{path}') ORDER BY dec"],
        }
        seconds = {}

        def run(table, path):
            for statement in statements[table]:
                self.connection.execute(statement.format(path=path))
            self.connection.execute("CHECKPOINT")

        for table, path in paths.items():
            seconds[table] = _seconds(lambda: run(table, path))
        return seconds

    @staticmethod
    def _cone_sql(table="objects", alias="o", columns=None):
        distance = DUCKDB_DISTANCE.format(r1=f"{alias}.ra", d1=f"{alias}.dec", r2="$ra", d2="$dec")
        return (f"SELECT {columns or CONE_COLUMNS} FROM {table} AS {alias} "
                f"WHERE {alias}.dec BETWEEN $dec - $r AND $dec + $r AND {distance} < $r")

    def _cone(self, cursor, ra, dec, radius_deg):
        return cursor.sql(self._cone_sql(), params={"ra": ra, "dec": dec, "r": radius_deg}).to_arrow_table().num_rows

    def cone(self, ra, dec, radius_deg):
        return self._cone(self.connection, ra, dec, radius_deg)

    def cone_client(self):
        cursor = self.connection.cursor()
        return lambda ra, dec, radius_deg: self._cone(cursor, ra, dec, radius_deg)

    def lookup(self, object_id):
        return self.connection.sql("SELECT * FROM objects WHERE id = $id",
                                   params={"id": int(object_id)}).to_arrow_table().num_rows

    def scan(self):
        return self.connection.sql(
            f"SELECT COUNT(*), AVG(flux_0) FROM objects WHERE flux_1 > {SCAN_FILTER}").fetchall()[0]

    def grouped_scan(self):
        return grouped_answer(self.connection.sql(GROUPED_SQL.format(table="objects")).fetchall())

    def crossmatch(self, radius_deg):
        return self.connection.sql(duckdb_zones_sql(radius_deg)).fetchall()[0][0]

    def child_cone(self, ra, dec, radius_deg):
        cone = self._cone_sql(columns="o.id")
        sql = (f"SELECT c.id, s.sourceId, s.psfFlux FROM ({cone}) AS c JOIN sources AS s ON s.objectId = c.id")
        return self.connection.sql(sql, params={"ra": ra, "dec": dec, "r": radius_deg}).to_arrow_table().num_rows

    def close(self):
        self.connection.close()


# -- PostgreSQL + Q3C ----------------------------------------------------------------------------------

PG_TYPES = {pa.int64(): "bigint", pa.int32(): "integer", pa.float64(): "double precision", pa.float32(): "real"}


def copy_parquet(connection, table, path, batch_rows=500_000):
    """CREATE TABLE ``table`` with the Parquet file's columns and COPY its rows in (CSV batches)."""
    schema = pq.read_schema(path)
    columns = ", ".join(f'"{field.name.lower()}" {PG_TYPES[field.type]}' for field in schema)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {table} ({columns})")
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
            buffer = io.BytesIO()
            pacsv.write_csv(pa.Table.from_batches([batch]), buffer, pacsv.WriteOptions(include_header=False))
            buffer.seek(0)
            cursor.copy_expert(f"COPY {table} FROM STDIN WITH (FORMAT csv)", buffer)
    connection.commit()


class Q3C:
    """PostgreSQL 15 + Q3C: one database, rows COPYed in, a q3c_ang2ipix(ra, dec) index, CLUSTER
    on it, ANALYZE, a primary key on id (and an index on the child's objectId)."""

    name = "PostgreSQL + Q3C"

    def __init__(self, root, databases):
        self.dsn = databases.create("qserv_bench_q3c")
        self.connection = psycopg2.connect(self.dsn)
        with self.connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION q3c")
            cursor.execute("SET maintenance_work_mem = '2GB'")
        self.connection.commit()

    def _execute(self, *statements):
        with self.connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
        self.connection.commit()

    def load(self, paths):
        after = {
            "objects": ["CREATE INDEX objects_q3c ON objects (q3c_ang2ipix(ra, dec))",
                        "CLUSTER objects USING objects_q3c", "ALTER TABLE objects ADD PRIMARY KEY (id)",
                        "ANALYZE objects"],
            "sources": ["CREATE INDEX sources_object ON sources (objectid)", "ANALYZE sources"],
            "match": ["CREATE INDEX match_q3c ON match (q3c_ang2ipix(ra, dec))", "CLUSTER match USING match_q3c",
                      "ANALYZE match"],
        }
        names = {"Object": "objects", "Source": "sources", "Match": "match"}
        seconds = {}
        for table, path in paths.items():
            name = names[table]
            seconds[table] = _seconds(lambda: (copy_parquet(self.connection, name, path),
                                               self._execute(*after[name])))
        return seconds

    def _cone(self, connection, ra, dec, radius_deg):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {CONE_COLUMNS} FROM objects WHERE q3c_radial_query(ra, dec, %s, %s, %s)",
                           (ra, dec, radius_deg))
            return len(cursor.fetchall())

    def cone(self, ra, dec, radius_deg):
        return self._cone(self.connection, ra, dec, radius_deg)

    def cone_client(self):
        connection = psycopg2.connect(self.dsn)  # one connection per thread
        self._clients = getattr(self, "_clients", []) + [connection]
        return lambda ra, dec, radius_deg: self._cone(connection, ra, dec, radius_deg)

    def _one(self, sql, parameters=()):
        with self.connection.cursor() as cursor:
            cursor.execute(sql, parameters)
            return cursor.fetchall()

    def lookup(self, object_id):
        return len(self._one("SELECT * FROM objects WHERE id = %s", (int(object_id),)))

    def scan(self):
        return self._one(f"SELECT COUNT(*), AVG(flux_0) FROM objects WHERE flux_1 > {SCAN_FILTER}")[0]

    def grouped_scan(self):
        return grouped_answer(self._one(GROUPED_SQL.format(table="objects")))

    def crossmatch(self, radius_deg):
        return self._one("SELECT COUNT(*) FROM match AS m, objects AS o "
                         "WHERE q3c_join(m.ra, m.dec, o.ra, o.dec, %s)", (radius_deg,))[0][0]

    def child_cone(self, ra, dec, radius_deg):
        return len(self._one("SELECT o.id, s.sourceid, s.psfflux FROM objects AS o JOIN sources AS s "
                             "ON s.objectid = o.id WHERE q3c_radial_query(o.ra, o.dec, %s, %s, %s)",
                             (ra, dec, radius_deg)))

    def close(self):
        for connection in getattr(self, "_clients", []) + [self.connection]:
            connection.close()


# -- LSDB / HATS ----------------------------------------------------------------------------------------

class Lsdb:
    """LSDB catalogs (HATS collections with a 60 arcsec margin) of Object and Match: cone search
    and crossmatch (no id lookup, scan or child join here)."""

    name = "LSDB"
    tables = ("Object", "Match")

    def __init__(self, root):
        self.root = Path(root) / "lsdb"

    def load(self, paths):
        import lsdb

        seconds = {}
        for table, path in paths.items():
            if table not in self.tables:
                continue

            def run():
                frame = pq.read_table(path).to_pandas()
                catalog = lsdb.from_dataframe(frame, ra_column="ra", dec_column="dec", margin_threshold=60.0)
                catalog.write_catalog(self.root / table, progress_bar=False)

            seconds[table] = _seconds(run)
        self.objects = lsdb.open_catalog(self.root / "Object", columns=["id", "ra", "dec", "flux_0"])
        if "Match" in paths:
            self.match = lsdb.open_catalog(self.root / "Match", columns=["id", "ra", "dec"])
        return seconds

    def cone(self, ra, dec, radius_deg):
        with warnings.catch_warnings():  # pandas deprecations inside lsdb and nested-pandas
            warnings.simplefilter("ignore")
            return len(self.objects.cone_search(ra, dec, radius_deg * 3600.0).compute(progress_bar=False))

    def crossmatch(self, radius_deg):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            matched = self.match.crossmatch(self.objects, radius_arcsec=radius_deg * 3600.0, n_neighbors=8,
                                           suffix_method="all_columns")
            return len(matched.compute(progress_bar=False))

    def close(self):
        shutil.rmtree(self.root, ignore_errors=True)
