"""The systems of the APDB benchmark (bench/apdb_bench.py), one interface over Arrow tables:
our core's ``qserv.payloads.apdb.Apdb`` (embedded default or PostgreSQL workers) and
lsst-dax-apdb's ``ApdbSql`` (SQLite file or PostgreSQL database), each freshly created.

``objects(ra, dec, radius_deg, schema)``, ``sources(ra, dec, radius_deg, time_mjd, schema)`` return
tables conformed to the Felis schema given; ``forced_sources(ra, dec, radius_deg, object_ids,
time_mjd)`` reads the forced-source history of the field (rows are counted, not used); ``store``
writes one visit."""

import astropy.time
import pandas as pd
import pyarrow as pa

import qserv
from bench.systems import PostgresDatabases
from qserv.instance import init_instance
from qserv.sphere import Circle

HISTORY_MONTHS = 12
_PANDAS_TYPES = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int32Dtype(), pa.int16(): pd.Int16Dtype(),
                 pa.int8(): pd.Int8Dtype(), pa.bool_(): pd.BooleanDtype()}


def tai(time_mjd):
    return astropy.time.Time(time_mjd, format="mjd", scale="tai")


def conformed(rows, schema):
    """``rows`` (Arrow or pandas) with exactly the columns of ``schema`` (missing ones null)."""
    if rows is None:
        return schema.empty_table()
    if not isinstance(rows, pa.Table):
        rows = pa.Table.from_pandas(rows, preserve_index=False)
    return pa.table({f.name: rows.column(f.name).cast(f.type) if f.name in rows.column_names
                     else pa.nulls(rows.num_rows, f.type) for f in schema}, schema=schema)


class QservApdb:
    """Our core: an APDB in database ``apdb`` of a new instance."""

    def __init__(self, root, backend, databases=None):
        from qserv.payloads.apdb import Apdb, ApdbSettings

        self.name = "qserv (embedded default)" if backend == "duckdb" else "qserv (PostgreSQL workers)"
        home = root / f"qserv-{backend}"
        if backend == "postgres":
            init_instance(home, backend="postgres", worker_dsns=[databases.create("apdb_bench_worker")
                                                                 for _ in range(2)])
        else:
            init_instance(home)
        self.engine = qserv.open(home)
        self.apdb = Apdb.create(self.engine, "apdb", ApdbSettings(read_sources_months=HISTORY_MONTHS,
                                                                  read_forced_sources_months=HISTORY_MONTHS))

    def objects(self, ra, dec, radius_deg, schema):
        return conformed(self.apdb.get_diaobjects(Circle(ra, dec, radius_deg)), schema)

    def sources(self, ra, dec, radius_deg, time_mjd, schema):
        return conformed(self.apdb.get_diasources(Circle(ra, dec, radius_deg), None, tai(time_mjd)), schema)

    def forced_sources(self, ra, dec, radius_deg, object_ids, time_mjd):
        """By object ids, as ApdbSql: the region prunes the read (one read of its chunks)."""
        rows = self.apdb.get_diaforcedsources(Circle(ra, dec, radius_deg), object_ids, tai(time_mjd))
        return 0 if rows is None else rows.num_rows

    def store(self, time_mjd, objects, sources, forced):
        self.apdb.store(tai(time_mjd), objects, sources, forced)

    def close(self):
        self.engine.close()


class RubinApdbSql:
    """lsst-dax-apdb's ApdbSql on a SQLite file or a new PostgreSQL database."""

    def __init__(self, root, backend, databases=None):
        from lsst.dax.apdb import Apdb
        from lsst.dax.apdb.sql import ApdbSql

        self.name = f"ApdbSql ({'SQLite' if backend == 'sqlite' else 'PostgreSQL'})"
        if backend == "sqlite":
            url = f"sqlite:///{root / 'apdb.sqlite3'}"
        else:
            name = databases.create("apdb_bench_apdbsql").rsplit("dbname=", 1)[1]
            url = f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
        config = ApdbSql.init_database(db_url=url, read_sources_months=HISTORY_MONTHS,
                                       read_forced_sources_months=HISTORY_MONTHS)
        self.apdb = Apdb.from_config(config)

    @staticmethod
    def region(ra, dec, radius_deg):
        from lsst import sphgeom

        return sphgeom.Circle(sphgeom.UnitVector3d(sphgeom.LonLat.fromDegrees(ra, dec)),
                              sphgeom.Angle.fromDegrees(radius_deg))

    def objects(self, ra, dec, radius_deg, schema):
        return conformed(self.apdb.getDiaObjects(self.region(ra, dec, radius_deg)), schema)

    def sources(self, ra, dec, radius_deg, time_mjd, schema):
        return conformed(self.apdb.getDiaSources(self.region(ra, dec, radius_deg), None, tai(time_mjd)), schema)

    def forced_sources(self, ra, dec, radius_deg, object_ids, time_mjd):
        """By object ids: ApdbSql has no region read of DiaForcedSource."""
        rows = self.apdb.getDiaForcedSources(self.region(ra, dec, radius_deg), object_ids.tolist(), tai(time_mjd))
        return 0 if rows is None else len(rows)

    def store(self, time_mjd, objects, sources, forced):
        frames = [rows.to_pandas(types_mapper=_PANDAS_TYPES.get) for rows in (objects, sources, forced)]
        self.apdb.store(tai(time_mjd), *frames)

    def close(self):
        self.apdb = None


SYSTEMS = {
    "qserv": lambda root, databases: QservApdb(root, "duckdb"),
    "qserv-pg": lambda root, databases: QservApdb(root, "postgres", databases),
    "apdbsql-sqlite": lambda root, databases: RubinApdbSql(root, "sqlite"),
    "apdbsql-pg": lambda root, databases: RubinApdbSql(root, "postgres", databases),
}


def open_systems(names, root):
    """The systems named (keys of SYSTEMS) and the PostgresDatabases to drop afterwards."""
    databases = PostgresDatabases()
    return [SYSTEMS[name](root, databases) for name in names], databases

