"""The one type map: Felis datatypes -> Arrow, DuckDB, PostgreSQL, VOTable, TAP_SCHEMA, ADQL.

Every function takes a :class:`~qserv.schema.columns.Column` or a bare datatype name (as in
``SYSTEM_COLUMNS``); the column's ``length`` only matters for the sized types
(``char``, ``string``, ``unicode``, ``binary``).

Choices worth knowing:

- Felis ``byte`` is a signed 8-bit integer. PostgreSQL has no 8-bit integer, so it is ``SMALLINT``;
  VOTable has only ``unsignedByte``, which would misstate negative values, so it is ``short``
  (Felis itself says ``unsignedByte``; astropy refuses to write int8 to VOTable at all).
- All character types are Arrow ``string``. DuckDB ignores VARCHAR lengths, so it gets ``VARCHAR``.
  PostgreSQL gets ``VARCHAR(n)`` for ``char(n)`` too: ``CHAR(n)`` pads values with blanks on read,
  which would make PostgreSQL workers answer differently from DuckDB workers.
- TAP 1.1 describes a column in TAP_SCHEMA.columns with VOTable ``datatype``/``arraysize``/``xtype``
  plus the deprecated ``"size"`` (:func:`tap_column`); the ADQL type names of TAP 1.0 and
  VODataService ``vs:TAPType`` remain available from :func:`adql_type` (also what ADQL CAST uses).
- ``timestamp`` is Arrow ``timestamp('us')`` without zone, SQL ``TIMESTAMP``, and in VOTable a
  ``char`` string with ``xtype="timestamp"`` (DALI).
"""

from typing import NamedTuple

import pyarrow as pa

from qserv.schema.columns import DATATYPES, Column, SchemaError

SIZED = ("char", "string", "unicode", "binary")


class _Target(NamedTuple):
    arrow: pa.DataType
    duckdb: str
    postgres: str
    votable: str
    adql: str


_MAP = {
    "boolean": _Target(pa.bool_(), "BOOLEAN", "BOOLEAN", "boolean", "BOOLEAN"),
    "byte": _Target(pa.int8(), "TINYINT", "SMALLINT", "short", "SMALLINT"),
    "short": _Target(pa.int16(), "SMALLINT", "SMALLINT", "short", "SMALLINT"),
    "int": _Target(pa.int32(), "INTEGER", "INTEGER", "int", "INTEGER"),
    "long": _Target(pa.int64(), "BIGINT", "BIGINT", "long", "BIGINT"),
    "float": _Target(pa.float32(), "REAL", "REAL", "float", "REAL"),
    "double": _Target(pa.float64(), "DOUBLE", "DOUBLE PRECISION", "double", "DOUBLE"),
    "char": _Target(pa.string(), "VARCHAR", "VARCHAR", "char", "CHAR"),
    "string": _Target(pa.string(), "VARCHAR", "VARCHAR", "char", "VARCHAR"),
    "unicode": _Target(pa.string(), "VARCHAR", "VARCHAR", "unicodeChar", "VARCHAR"),
    "text": _Target(pa.string(), "VARCHAR", "TEXT", "char", "VARCHAR"),
    "binary": _Target(pa.binary(), "BLOB", "BYTEA", "unsignedByte", "VARBINARY"),
    "timestamp": _Target(pa.timestamp("us"), "TIMESTAMP", "TIMESTAMP", "char", "TIMESTAMP"),
}
assert tuple(_MAP) == DATATYPES, "the type map must cover exactly the Felis datatypes"

# Arrow -> Felis for inference: strings are ``string``; unsigned integers widen losslessly.
_FROM_ARROW = {
    **{target.arrow: datatype for datatype, target in _MAP.items()
       if datatype not in ("char", "unicode", "text")},
    pa.uint8(): "short", pa.uint16(): "int", pa.uint32(): "long", pa.float16(): "float",
}


class VOTableField(NamedTuple):
    """The type attributes of a VOTable FIELD (``arraysize``/``xtype`` None when absent)."""

    datatype: str
    arraysize: str | None = None
    xtype: str | None = None


def _spec(column):
    """(datatype, length) of a Column or a bare datatype name."""
    if isinstance(column, Column):
        datatype, length = column.datatype, column.length
    else:
        datatype, length = column, None
    if datatype not in _MAP:
        raise SchemaError(
            f"unknown datatype {datatype!r} (expected one of {', '.join(DATATYPES)})"
        )
    return datatype, (length if datatype in SIZED else None)


def arrow_type(column):
    return _MAP[_spec(column)[0]].arrow


def arrow_schema(columns):
    """A pyarrow schema for a list of Columns (nullability included)."""
    return pa.schema(
        [pa.field(column.name, arrow_type(column), nullable=column.nullable) for column in columns]
    )


def duckdb_type(column):
    return _MAP[_spec(column)[0]].duckdb


def postgres_type(column):
    """PostgreSQL type; a character type without a length is TEXT."""
    datatype, length = _spec(column)
    name = _MAP[datatype].postgres
    if name != "VARCHAR":
        return name
    return f"VARCHAR({length})" if length else "TEXT"


def adql_type(column):
    """The ADQL / TAP 1.0 (``vs:TAPType``) type name; the length stays in ``Column.length``."""
    return _MAP[_spec(column)[0]].adql


def votable_field(column):
    """VOTable ``datatype``, ``arraysize`` and ``xtype`` of a column.

    ``char(n)`` is fixed-size (``"n"``; ``char(1)`` is a single character, with no arraysize as
    the VOTable standard asks); ``string``/``unicode``/``binary`` of length n are variable up to n
    (``"n*"``); without a length, and for ``text`` and ``timestamp``, ``"*"``.
    """
    datatype, length = _spec(column)
    votable = _MAP[datatype].votable
    if datatype == "timestamp":
        return VOTableField(votable, "*", "timestamp")
    if datatype == "char" and length:
        return VOTableField(votable, str(length) if length > 1 else None)
    if datatype in SIZED and length:
        return VOTableField(votable, f"{length}*")
    if datatype in SIZED or datatype == "text":
        return VOTableField(votable, "*")
    return VOTableField(votable)


def tap_column(column):
    """The type columns of TAP_SCHEMA.columns (TAP 1.1): datatype, arraysize, xtype, "size"."""
    field = votable_field(column)
    digits = (field.arraysize or "").rstrip("*")
    return {
        "datatype": field.datatype,
        "arraysize": field.arraysize,
        "xtype": field.xtype,
        "size": int(digits) if digits else None,
    }


def datatype_from_arrow(arrow, column=None):
    """The Felis datatype that holds values of an Arrow type without loss (for inference).

    Unsigned integers widen to the next signed type; all strings map to ``string`` and all
    binaries to ``binary``; timestamps of any unit or zone map to ``timestamp``; a dictionary
    maps as its values. Anything else (uint64, decimals, dates, lists, structs...) is a
    SchemaError naming ``column``.
    """
    types = pa.types
    if types.is_dictionary(arrow):
        return datatype_from_arrow(arrow.value_type, column)
    if arrow in _FROM_ARROW:
        return _FROM_ARROW[arrow]
    if types.is_large_string(arrow) or types.is_string_view(arrow):
        return "string"
    if (types.is_large_binary(arrow) or types.is_binary_view(arrow)
            or types.is_fixed_size_binary(arrow)):
        return "binary"
    if types.is_timestamp(arrow):
        return "timestamp"
    where = f"column {column!r}: " if column is not None else ""
    raise SchemaError(f"{where}unsupported Arrow type {arrow} (no lossless Felis datatype)")
