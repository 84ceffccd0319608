"""Defining databases and tables in the central state, with validation of every option."""

from dataclasses import dataclass

from sqlalchemy import select

from qserv.errors import ConflictError, UserError
from qserv.meta.catalog import active_workers, get_database, get_table
from qserv.meta.kinds import KINDS
from qserv.meta.models import Database, Table
from qserv.schema.columns import check_identifier
from qserv.sphere.chunking import ChunkGrid

NUMERIC = ("short", "int", "long", "float", "double")
ID_TYPES = ("short", "int", "long", "char", "string", "unicode", "text")


RESERVED_DATABASES = ("TAP_SCHEMA", "TAP_UPLOAD")


def create_database(session, name, chunk_order=7, subchunk_order=10, overlap_arcsec=60.0, replication=1):
    check_identifier(name, "database")
    if name.upper() in RESERVED_DATABASES:
        raise UserError(f"database name {name!r} is reserved (TAP_SCHEMA describes the catalog, "
                        "TAP_UPLOAD holds a query's uploaded tables)")
    ChunkGrid(chunk_order, subchunk_order, overlap_arcsec)  # validates
    if session.scalar(select(Database).where(Database.name == name)) is not None:
        raise ConflictError(f"database {name!r} already exists")
    workers = len(active_workers(session))
    if not 1 <= replication <= workers:
        raise UserError(f"replication must be between 1 and the number of active workers ({workers}), "
                        f"got {replication}")
    database = Database(name=name, chunk_order=chunk_order, subchunk_order=subchunk_order,
                        overlap_arcsec=float(overlap_arcsec), replication=replication, published=False)
    session.add(database)
    session.flush()
    return database


@dataclass
class TableSpec:
    """Options of `qserv table create` (see the README for their meaning per kind)."""

    kind: str
    columns: list
    id_column: str | None = None
    ra_column: str | None = None
    dec_column: str | None = None
    non_unique: bool = False
    director: str | None = None  # "DB.TABLE" or "TABLE"
    director_key: str | None = None
    director_position: bool = False  # child: --ra/--dec hold the director's position (raObject/declObject)
    director2: str | None = None  # match: the second director, "DB.TABLE" or "TABLE"
    director2_key: str | None = None
    partition_column: str | None = None
    bucket_days: float | None = None
    bucket_count: int | None = None
    felis: dict | None = None
    description: str | None = None


def create_table(session, database_name, table_name, spec):
    database = get_database(session, database_name)
    check_identifier(table_name, "table")
    if any(t.name == table_name for t in database.tables):
        raise ConflictError(f"table {database_name}.{table_name} already exists")
    if spec.kind not in KINDS:
        raise UserError(f"unknown table kind {spec.kind!r} (expected one of {', '.join(KINDS)})")
    if not spec.columns:
        raise UserError(f"table {table_name!r} has no columns")
    types = {c.name: c.datatype for c in spec.columns}
    where = f"table {database_name}.{table_name}"

    def need(option, value, datatypes=None):
        if not value:
            raise UserError(f"{where}: kind {spec.kind} needs {option}")
        if value not in types:
            raise UserError(f"{where}: {option} names {value!r}, which is not a column")
        if datatypes and types[value] not in datatypes:
            raise UserError(f"{where}: {option} column {value!r} is {types[value]}, "
                            f"expected one of {', '.join(datatypes)}")

    def refuse(option, value):
        if value:
            raise UserError(f"{where}: {option} does not apply to kind {spec.kind}")

    def director_of(option, name):
        director_db, _, director_name = name.rpartition(".")
        if director_db and director_db != database_name:
            raise UserError(f"{where}: the director must be in the same database ({database_name}), "
                            f"got {option} {name}")
        found = get_table(session, database_name, director_name)
        if found.kind != "director":
            raise UserError(f"{where}: {name} is a {found.kind} table, not a director")
        return found

    director = director2 = None
    if spec.kind == "director":
        need("--id", spec.id_column, ID_TYPES)
        need("--ra", spec.ra_column, NUMERIC)
        need("--dec", spec.dec_column, NUMERIC)
    elif spec.kind == "child":
        if not spec.director:
            raise UserError(f"{where}: kind child needs --director DB.TABLE")
        director = director_of("--director", spec.director)
        need("--director-key", spec.director_key)
        if (spec.ra_column is None) != (spec.dec_column is None):
            raise UserError(f"{where}: give both --ra and --dec, or neither")
        if spec.ra_column:
            need("--ra", spec.ra_column, NUMERIC)
            need("--dec", spec.dec_column, NUMERIC)
        elif spec.director_position:
            raise UserError(f"{where}: --director-position needs --ra and --dec (the director's position "
                            "copied into each row, e.g. raObject and declObject)")
        if spec.director_position and director.non_unique:
            raise UserError(f"{where}: --director-position needs a director with unique ids ({director.name} "
                            "is --non-unique: its rows of one id may lie in several chunks)")
    elif spec.kind == "match":
        if not (spec.director and spec.director2):
            raise UserError(f"{where}: kind match needs --director DB.TABLE and --director2 DB.TABLE")
        director, director2 = director_of("--director", spec.director), director_of("--director2", spec.director2)
        for option, side in (("--director", director), ("--director2", director2)):
            if side.non_unique:
                raise UserError(f"{where}: {option} {side.name} is declared --non-unique; a match table "
                                "needs directors with unique ids")
        need("--director-key", spec.director_key)
        need("--director2-key", spec.director2_key)
        for option, value in (("--ra", spec.ra_column), ("--dec", spec.dec_column)):
            refuse(option, value)
    else:
        for option, value in (("--ra", spec.ra_column), ("--dec", spec.dec_column),
                              ("--director", spec.director)):
            refuse(option, value)
    if spec.kind != "match":
        refuse("--director2/--director2-key", spec.director2 or spec.director2_key)
    if spec.kind == "time":
        need("--time-column", spec.partition_column, NUMERIC + ("timestamp",))
        if not (spec.bucket_days and spec.bucket_days > 0):
            raise UserError(f"{where}: kind time needs --bucket-days > 0")
    if spec.kind == "hash":
        need("--hash-column", spec.partition_column)
        if not (spec.bucket_count and spec.bucket_count > 0):
            raise UserError(f"{where}: kind hash needs --buckets > 0")
    if spec.kind not in ("time", "hash"):
        refuse("--time-column/--hash-column", spec.partition_column)
    if spec.kind != "director":
        refuse("--non-unique", spec.non_unique)
    if spec.kind != "child":
        refuse("--director-position", spec.director_position)
    near_director = (spec.kind == "child" and bool(spec.ra_column) and not spec.director_position) or \
        spec.kind == "match"
    table = Table(
        database_id=database.id, name=table_name, kind=spec.kind,
        columns=[c.to_dict() for c in spec.columns],
        id_column=spec.id_column if spec.kind == "director" else None,
        ra_column=spec.ra_column, dec_column=spec.dec_column, non_unique=spec.non_unique,
        director_table_id=director.id if director else None, director_key=spec.director_key,
        director_position=spec.director_position,
        director_distance_arcsec=0.0 if near_director else None,  # no row measured yet
        director2_table_id=director2.id if director2 else None, director2_key=spec.director2_key,
        partition_column=spec.partition_column, bucket_size=spec.bucket_days,
        bucket_count=spec.bucket_count, felis=spec.felis, description=spec.description,
    )
    session.add(table)
    session.flush()
    return table
