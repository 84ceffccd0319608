"""The APDB's tables on the core: which Felis tables of ``apdb.yaml`` are created, their kind,
and the columns the APDB adds to them (pure: no I/O apart from reading the Felis file).

Every table the APDB writes is append-only on the core; a row's ``apdbVersion`` (the id of the
ingest transaction that wrote it) orders the versions of one primary key, so a later version
(a closed validity interval, a reassigned or withdrawn source) supersedes an earlier one when read.
"""

from dataclasses import dataclass

from qserv.meta.admin import TableSpec
from qserv.schema.columns import Column, SchemaError
from qserv.schema.felis import load_felis_tables, sdm_schema_path

VERSION_COLUMN = "apdbVersion"
REPLICA_CHUNK_COLUMN = "apdbReplicaChunk"
VISIT_DETECTOR_TABLE = "ApdbVisitDetector"
METADATA_TABLE = "metadata"
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
        spec = TableSpec(columns=[*table.columns, *extra], felis=table.felis,
                         description=table.description, **_placement(name, table))
        tables[name] = ApdbTable(name, list(table.columns), list(table.primary_key), spec)
    return tables


def visit_detector_spec():
    """The table of (visit, detector) pairs stored (containsVisitDetector's index)."""
    columns = [Column("visit", "long", nullable=False), Column("detector", "short", nullable=False),
               Column(VERSION_COLUMN, "long", nullable=False)]
    return TableSpec(kind="hash", columns=columns, partition_column="visit", bucket_count=HASH_BUCKETS,
                     description="(visit, detector) pairs stored in this APDB")


def _placement(name, table):
    if name == "DiaObject":
        return dict(kind="director", id_column="diaObjectId", ra_column="ra", dec_column="dec", non_unique=True)
    if name in ("DiaSource", "DiaForcedSource"):
        return dict(kind="child", director="DiaObject", director_key="diaObjectId", ra_column="ra",
                    dec_column="dec")
    key = table.primary_key[0] if table.primary_key else table.columns[0].name
    return dict(kind="hash", partition_column=key, bucket_count=HASH_BUCKETS)
