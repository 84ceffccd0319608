"""Tables from Felis YAML schemas (validated by lsst-felis), including the bundled Rubin schemas.

Every failure (missing file, bad YAML, a Felis validation error, an unknown table) is a
:class:`SchemaError` naming the file and the reason; felis and pydantic exceptions never escape.
"""

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml
from felis.datamodel import Schema
from lsst.resources import ResourcePath

from qserv.schema.columns import DATATYPES, Column, SchemaError
from qserv.schema.types import SIZED

SDM_PACKAGE = "lsst.sdm.schemas"
# Felis generates missing @id values (several Rubin schemas omit them) and inlines the columns
# that a table borrows from another schema (columnRefs), as `felis` itself does.
_CONTEXT = {"id_generation": True, "dereference_resources": True}
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MAX_ERRORS = 5


@dataclass(frozen=True)
class FelisTable:
    """One table of a Felis schema, as qserv uses it."""

    name: str
    columns: list[Column]
    primary_key: list[str] = field(default_factory=list)
    description: str | None = None
    felis: dict = field(default_factory=dict)  # the Felis table as plain (JSON-able) data


def sdm_schema_names():
    """Names of the Felis schemas bundled with lsst-sdm-schemas (e.g. 'apdb', 'dp02_dc2')."""
    folder = resources.files(SDM_PACKAGE)
    return sorted(entry.name[: -len(".yaml")] for entry in folder.iterdir()
                  if entry.name.endswith(".yaml"))


def sdm_schema_path(name):
    """Path of a bundled lsst-sdm-schemas YAML file, by name with or without '.yaml'."""
    stem = name[: -len(".yaml")] if name.endswith(".yaml") else name
    names = sdm_schema_names()
    if stem not in names:
        raise SchemaError(
            f"unknown lsst-sdm-schemas schema {name!r}; available: {', '.join(names)}"
        )
    return Path(str(resources.files(SDM_PACKAGE) / f"{stem}.yaml"))


def load_felis_tables(path):
    """All tables of a Felis YAML file, by name, in file order."""
    path = Path(path)
    data = _read_yaml(path)
    if problem := _shape_problem(data):
        raise SchemaError(f"{path.name}: invalid Felis schema: {problem}")
    # "resource_path" lets felis resolve resource URIs relative to the file (as from_uri does).
    context = {**_CONTEXT, "resource_path": ResourcePath(path.resolve())}
    try:
        schema = Schema.model_validate(data, context=context)
    except (ValueError, TypeError, KeyError) as error:
        raise SchemaError(f"{path.name}: invalid Felis schema: {_describe(error, data)}") from None
    return {table.name: _felis_table(path, table) for table in schema.tables}


def load_felis_table(path, table_name=None):
    """One table of a Felis YAML file; ``table_name`` may be omitted if the file has one table."""
    tables = load_felis_tables(path)
    name = Path(path).name
    if table_name is None:
        if len(tables) != 1:
            raise SchemaError(
                f"{name} defines {len(tables)} tables; name one of: {', '.join(tables) or '(none)'}"
            )
        return next(iter(tables.values()))
    if table_name not in tables:
        raise SchemaError(
            f"{name}: no table {table_name!r}; available: {', '.join(tables) or '(none)'}"
        )
    return tables[table_name]


def _read_yaml(path):
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SchemaError(f"Felis schema file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SchemaError(f"cannot read Felis schema file {path}: {error}") from None
    try:
        return yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(error, "problem", None) or error
        raise SchemaError(f"{path.name}: invalid YAML{where}: {reason}") from None


def _shape_problem(data):
    """What is wrong with the structure felis assumes (it raises bare KeyError/TypeError)."""
    if not isinstance(data, dict):
        return "the document must be a mapping with 'name' and 'tables'"
    if not isinstance(data.get("name"), str):
        return "the schema needs a 'name'"
    if not isinstance(data.get("tables"), list):
        return "the schema needs a list of 'tables'"
    for index, table in enumerate(data["tables"]):
        if not isinstance(table, dict) or not isinstance(table.get("name"), str):
            return f"table #{index + 1} must be a mapping with a 'name'"
        columns = table.get("columns", [])
        if not isinstance(columns, list) or not all(
            isinstance(column, dict) and isinstance(column.get("name"), str) for column in columns
        ):
            return f"table {table['name']!r}: 'columns' must be a list of mappings with a 'name'"
        for column in columns:
            if column.get("datatype") not in DATATYPES:
                return (
                    f"table {table['name']!r} column {column['name']!r}: unknown datatype "
                    f"{column.get('datatype')!r} (expected one of {', '.join(DATATYPES)})"
                )
    return None


def _describe(error, data):
    """A readable reason: pydantic locations are spelled with table and column names."""
    if not hasattr(error, "errors"):
        return str(error)
    lines = [f"{_where(data, item['loc'])}: {item['msg']}" for item in error.errors()]
    more = len(lines) - _MAX_ERRORS
    return "; ".join(lines[:_MAX_ERRORS]) + (f"; ... and {more} more" if more > 0 else "")


def _where(data, loc):
    parts, node = [], data
    for step in loc:
        if isinstance(step, int) and isinstance(node, list) and step < len(node):
            node = node[step]
            name = node.get("name") if isinstance(node, dict) else None
            parts[-1] = f"{parts[-1]}[{name if name is not None else step}]"
        else:
            node = node.get(step) if isinstance(node, dict) else None
            parts.append(str(step))
    return ".".join(parts) or "schema"


def _felis_table(path, table):
    try:
        columns = [_column(column) for column in table.columns]
        primary_key = _primary_key(table)
    except SchemaError as error:
        raise SchemaError(f"{path.name}: table {table.name!r}: {error}") from None
    return FelisTable(
        name=table.name,
        columns=columns,
        primary_key=primary_key,
        description=table.description,
        felis=table.model_dump(mode="json", by_alias=True, exclude_none=True),
    )


def _primary_key(table):
    """Column names of the primary key, which Felis gives as column ids ('#Table.column')."""
    keys = table.primary_key or []
    keys = [keys] if isinstance(keys, str) else keys
    names = {column.id: column.name for column in table.columns}
    unknown = [key for key in keys if key not in names]
    if unknown:
        raise SchemaError(f"primary key {', '.join(unknown)} is not a column of the table")
    return [names[key] for key in keys]


def _column(column):
    datatype = str(column.datatype)
    return Column(
        name=column.name,
        datatype=datatype,
        nullable=column.nullable,
        length=column.length if datatype in SIZED else None,
        unit=column.ivoa_unit or column.fits_tunit,
        ucd=column.ivoa_ucd,
        description=column.description,
    )
