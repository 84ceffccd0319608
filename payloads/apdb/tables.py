"""The APDB's tables on the core: which Felis tables of ``apdb.yaml`` are created, their kind,
and the columns the APDB adds to them (pure: no I/O apart from reading the Felis file).

The Felis tables are append-only on the core; a row's ``apdbVersion`` (the id of the ingest
transaction that wrote it) orders the versions of one primary key, so a later version (a closed
validity interval, a reassigned or withdrawn source) supersedes an earlier one when read.
``DiaObjectLast`` holds the open latest version of each DiaObject (all DiaObject columns, placed
by position): the transaction writing a new version deletes the one it supersedes there (core row
deletion), so region reads of DiaObjects read one row per object whatever the history.
"""

from dataclasses import dataclass

import pyarrow.compute as pc

from qserv.meta.admin import TableSpec
from qserv.schema.columns import Column, SchemaError
from qserv.schema.felis import load_felis_tables, sdm_schema_path

VERSION_COLUMN = "apdbVersion"
MOVED_COLUMN = "apdbMoved"  # a DiaSource version marking that the row left this diaObjectId
DELETED_COLUMN = "apdbDeleted"  # a metadata or replica chunk version marking a deletion
REPLICA_CHUNK_COLUMN = "apdb_replica_chunk"
VISIT_DETECTOR_TABLE = "ApdbVisitDetector"
REPLICA_CHUNKS_TABLE = "ApdbReplicaChunks"
UPDATE_RECORDS_TABLE = "ApdbUpdateRecords"
METADATA_TABLE = "metadata"
LATEST_TABLE = "DiaObjectLast"
HASH_BUCKETS = 16
# Felis tables and how each is placed: DiaObject versions by position (one director row per
# version), sources by their own positions next to their DiaObject's id, the rest by hash.
SOURCE_TABLES = ("DiaObject", "DiaSource", "DiaForcedSource")
REQUIRED = (*SOURCE_TABLES, METADATA_TABLE)
OPTIONAL = ("SSObject",)


@dataclass(frozen=True)
class ApdbTable:
    name: str
    columns: list          # Felis columns, in file order (what reads return)
    primary_key: list
    spec: TableSpec        # what is created on the core (Felis columns + APDB columns)

    @property
    def column_names(self):
        return [c.name for c in self.columns]


def schema_path(schema_file):
    """A Felis file path, or a bundled lsst-sdm-schemas name such as 'apdb'."""
    from pathlib import Path

    return Path(schema_file) if Path(schema_file).exists() else sdm_schema_path(schema_file)


def apdb_tables(schema_file="apdb", replica=False):
    """name -> ApdbTable of the APDB tables defined by ``schema_file``."""
    felis = load_felis_tables(schema_path(schema_file))
    missing = [name for name in REQUIRED if name not in felis]
    if missing:
        raise SchemaError(f"{schema_file}: an APDB schema needs tables {', '.join(missing)}")
    tables = {}
    for name in REQUIRED + OPTIONAL:
        if name not in felis:
            continue
        table = felis[name]
        extra = [Column(VERSION_COLUMN, "long", nullable=False,
                        description="id of the transaction that wrote this version of the row")]
        if replica and name in SOURCE_TABLES:
            extra.append(Column(REPLICA_CHUNK_COLUMN, "long", nullable=True,
                                description="replica chunk of the store that wrote the row"))
        if name == "DiaSource":
            extra.append(Column(MOVED_COLUMN, "boolean", nullable=True,
                                description="true: this version only ends the row under its diaObjectId"))
        if name == METADATA_TABLE:
            extra.append(Column(DELETED_COLUMN, "boolean", nullable=True, description="true: key deleted"))
        spec = TableSpec(columns=[*table.columns, *extra], felis=table.felis,
                         description=table.description, **_placement(name, table))
        tables[name] = ApdbTable(name, list(table.columns), list(table.primary_key), spec)
    return tables


def catalog_tables(engine, database):
    """name -> ApdbTable of an APDB created earlier, from the core's catalog (so the Felis file
    need not exist any more)."""
    from qserv.meta.catalog import get_database, table_columns

    added = {VERSION_COLUMN, MOVED_COLUMN, DELETED_COLUMN, REPLICA_CHUNK_COLUMN}
    tables = {}
    with engine.store.session() as session:
        for table in get_database(session, database).tables:
            if table.name not in REQUIRED + OPTIONAL:
                continue
            columns = table_columns(table)
            felis = table.felis or {}
            names = {c.get("@id"): c.get("name") for c in felis.get("columns", [])}
            keys = felis.get("primaryKey") or []
            keys = [keys] if isinstance(keys, str) else keys
            spec = TableSpec(kind=table.kind, columns=columns, felis=felis, description=table.description)
            tables[table.name] = ApdbTable(table.name, [c for c in columns if c.name not in added],
                                           [names[k] for k in keys], spec)
    return tables


def latest_spec(objects):
    """``DiaObjectLast``: the columns of ``objects`` (the DiaObject ApdbTable), placed by position
    next to the DiaObject of the same id."""
    return TableSpec(kind="child", columns=list(objects.spec.columns), director="DiaObject",
                     director_key="diaObjectId", ra_column="ra", dec_column="dec",
                     description="the open latest version of each DiaObject (region reads)")


def latest_rows(objects):
    """The rows of a DiaObject batch that are open latest versions (validityEndMjdTai NULL)."""
    return objects.filter(pc.is_null(objects["validityEndMjdTai"])) if "validityEndMjdTai" in objects.column_names \
        else objects


def visit_detector_spec():
    """The table of (visit, detector) pairs stored (containsVisitDetector's index)."""
    columns = [Column("visit", "long", nullable=False), Column("detector", "short", nullable=False),
               Column("storeDigest", "string", nullable=False, description="identifies the store (retries)"),
               Column(VERSION_COLUMN, "long", nullable=False)]
    return TableSpec(kind="hash", columns=columns, partition_column="visit", bucket_count=HASH_BUCKETS,
                     description="(visit, detector) pairs stored in this APDB")


def replica_specs():
    """Tables of replica chunks and of update records (for the Prompt Products Database)."""
    def spec(columns, description):
        return TableSpec(kind="hash", columns=[*columns, Column(VERSION_COLUMN, "long", nullable=False)],
                         partition_column=REPLICA_CHUNK_COLUMN, bucket_count=HASH_BUCKETS,
                         description=description)

    chunk = Column(REPLICA_CHUNK_COLUMN, "long", nullable=False)
    return {
        REPLICA_CHUNKS_TABLE: spec([chunk, Column("last_update_mjd_tai", "double", nullable=False),
                                    Column("unique_id", "string", nullable=False),
                                    Column(DELETED_COLUMN, "boolean", nullable=True)],
                                   "replica chunks: one row per store (the newest row wins)"),
        UPDATE_RECORDS_TABLE: spec([chunk, Column("update_time_ns", "long", nullable=False),
                                    Column("update_order", "int", nullable=False),
                                    Column("update_unique_id", "string", nullable=False),
                                    Column("update_payload", "text", nullable=False)],
                                   "updates of stored rows (reassignments, withdrawals, validity ends)"),
    }


def _placement(name, table):
    if name == "DiaObject":
        return dict(kind="director", id_column="diaObjectId", ra_column="ra", dec_column="dec", non_unique=True)
    if name in ("DiaSource", "DiaForcedSource"):
        return dict(kind="child", director="DiaObject", director_key="diaObjectId", ra_column="ra",
                    dec_column="dec")
    key = table.primary_key[0] if table.primary_key else table.columns[0].name
    return dict(kind="hash", partition_column=key, bucket_count=HASH_BUCKETS)
