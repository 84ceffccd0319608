"""Admin views of databases, tables, their chunks and indexes."""

import dataclasses

from flask import Response, request
from sqlalchemy import select

from qserv.api.admin.requests import body, engine, field
from qserv.chunk_summary import size_warning, summarise
from qserv.errors import UserError
from qserv.meta.admin import TableSpec
from qserv.meta.catalog import get_database
from qserv.meta.models import Database
from qserv.schema.columns import Column

SPEC_FIELDS = {f.name: f for f in dataclasses.fields(TableSpec)}
JSON_TYPES = (("bool", "boolean"), ("float", "number"), ("int", "integer"), ("dict", "object"),
              ("list", "array"), ("str", "string"))
SPEC_TYPES = {name: next(kind for word, kind in JSON_TYPES if word in str(spec.type))
              for name, spec in SPEC_FIELDS.items()}  # TableSpec's fields as JSON types
COLUMN_FIELDS = {f.name for f in dataclasses.fields(Column)}


def database_json(database):
    return {"name": database.name, "chunk_order": database.chunk_order, "subchunk_order": database.subchunk_order,
            "overlap_arcsec": database.overlap_arcsec, "replication": database.replication,
            "published": database.published, "tables": [t.name for t in database.tables]}


def list_databases():
    with engine().store.session() as session:
        return [database_json(d) for d in session.scalars(select(Database).order_by(Database.name))]


def create_database():
    values = body()
    name = field(values, "name", "string", required=True)
    engine().create_database(name, field(values, "chunk_order", "integer", 7),
                             field(values, "subchunk_order", "integer", 10),
                             float(field(values, "overlap_arcsec", "number", 60.0)),
                             field(values, "replication", "integer", 1))
    with engine().store.session() as session:
        return database_json(get_database(session, name)), 201


def publish_database(database):
    engine().publish(database)
    with engine().store.session() as session:
        return database_json(get_database(session, database))


def _force():
    """The ``force`` query parameter: true or false (absent: false)."""
    value = request.args.get("force", "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise UserError(f"force must be true or false, not {value!r}")
    return value in ("true", "1")


def drop_database(database):
    report = engine().drop_database(database, force=_force())
    return {"database": database, **dataclasses.asdict(report)}


def drop_table(database, table):
    return dataclasses.asdict(engine().drop_table(f"{database}.{table}", force=_force()))


def table_spec(values):
    """A TableSpec from the JSON fields of one (``columns``: objects with Column's fields)."""
    unknown = sorted(set(values) - set(SPEC_FIELDS) - {"table"})
    if unknown:
        raise UserError(f"unknown field(s) {', '.join(map(repr, unknown))} (known: {', '.join(SPEC_TYPES)})")
    found = {name: field(values, name, kind) for name, kind in SPEC_TYPES.items() if name in values}
    columns = []
    for position, column in enumerate(field(values, "columns", "array", required=True)):
        if not isinstance(column, dict) or set(column) - COLUMN_FIELDS or "name" not in column:
            raise UserError(f"columns[{position}] must be an object with 'name', 'datatype' and optionally "
                            f"{', '.join(sorted(COLUMN_FIELDS - {'name', 'datatype'}))}")
        columns.append(Column(**column))
    found["columns"] = columns
    if "kind" not in found:
        raise UserError("missing field 'kind' (string)")
    return TableSpec(**found)


def create_table():
    values = body()
    name = field(values, "table", "string", required=True)
    spec = table_spec(values)
    engine().create_table(name, spec)
    return {"table": name, "kind": spec.kind, "columns": len(spec.columns)}, 201


def table_stats(table):
    rows = engine().chunks(table)
    kind, chunk_order = engine().table_layout(table)
    summary = summarise(rows)
    found = dataclasses.asdict(summary)
    found["workers"] = {name: dict(zip(("chunks", "rows", "overlap_rows"), values))
                        for name, values in summary.workers.items()}
    return {"table": table, "kind": kind, "chunk_order": chunk_order, **found,
            "warning": size_warning(summary, kind, chunk_order)}


def table_chunks(table):
    return [{"chunk": chunk, "rows": rows, "overlap_rows": overlap, "workers": workers}
            for chunk, rows, overlap, workers in engine().chunks(table)]


def table_map(table):
    from qserv.chunk_maps import chunk_map_png

    return Response(chunk_map_png(engine(), table), content_type="image/png")


def list_indexes(table):
    return {"table": table, "indexes": engine().indexes(table)}


def create_index(table):
    column = field(body(), "column", "string", required=True)
    return {"table": table, "column": column, "workers": engine().create_index(table, column)}, 201


def drop_index(table, column):
    return {"table": table, "column": column, "workers": engine().drop_index(table, column)}
