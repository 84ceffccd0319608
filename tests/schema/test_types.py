"""The type map (qserv.schema.types): every Felis datatype on every target, checked on real engines."""

import datetime

import duckdb
import psycopg2
import psycopg2.errors
import pyarrow as pa
import pytest

from qserv.schema.columns import DATATYPES, Column, SchemaError
from qserv.schema.types import (
    adql_type,
    arrow_schema,
    arrow_type,
    datatype_from_arrow,
    duckdb_type,
    postgres_type,
    tap_column,
    votable_field,
)

# datatype: (Arrow, DuckDB, PostgreSQL without length, VOTable datatype, ADQL)
EXPECTED = {
    "boolean": (pa.bool_(), "BOOLEAN", "BOOLEAN", "boolean", "BOOLEAN"),
    "byte": (pa.int8(), "TINYINT", "SMALLINT", "short", "SMALLINT"),
    "short": (pa.int16(), "SMALLINT", "SMALLINT", "short", "SMALLINT"),
    "int": (pa.int32(), "INTEGER", "INTEGER", "int", "INTEGER"),
    "long": (pa.int64(), "BIGINT", "BIGINT", "long", "BIGINT"),
    "float": (pa.float32(), "REAL", "REAL", "float", "REAL"),
    "double": (pa.float64(), "DOUBLE", "DOUBLE PRECISION", "double", "DOUBLE"),
    "char": (pa.string(), "VARCHAR", "TEXT", "char", "CHAR"),
    "string": (pa.string(), "VARCHAR", "TEXT", "char", "VARCHAR"),
    "unicode": (pa.string(), "VARCHAR", "TEXT", "unicodeChar", "VARCHAR"),
    "text": (pa.string(), "VARCHAR", "TEXT", "char", "VARCHAR"),
    "binary": (pa.binary(), "BLOB", "BYTEA", "unsignedByte", "VARBINARY"),
    "timestamp": (pa.timestamp("us"), "TIMESTAMP", "TIMESTAMP", "char", "TIMESTAMP"),
}
VOTABLE_PRIMITIVES = {
    "boolean", "bit", "unsignedByte", "short", "int", "long", "char", "unicodeChar",
    "float", "double", "floatComplex", "doubleComplex",
}
LENGTHS = {"char": 4, "string": 16, "unicode": 8, "binary": 8}
# One value per datatype, at the edges of its range where that matters.
VALUES = {
    "boolean": True,
    "byte": -128,
    "short": -32768,
    "int": 2**31 - 1,
    "long": -(2**63),
    "float": 1.5,
    "double": 1 / 3,
    "char": "ab",
    "string": "hello",
    "unicode": "h\u00e9llo\u2713",
    "text": "a longer text " * 20,
    "binary": b"\x00\xffab",
    "timestamp": datetime.datetime(2024, 1, 2, 3, 4, 5, 123456),
}


def one_column_each(lengths=True):
    return [
        Column(f"c_{datatype}", datatype, length=LENGTHS.get(datatype) if lengths else None)
        for datatype in DATATYPES
    ]


def test_expected_table_covers_every_datatype():
    assert tuple(EXPECTED) == DATATYPES


@pytest.mark.parametrize("datatype", DATATYPES)
def test_every_datatype_maps_on_every_target(datatype):
    arrow, duck, postgres, votable, adql = EXPECTED[datatype]
    column = Column("x", datatype)
    assert arrow_type(column) == arrow
    assert duckdb_type(column) == duck
    assert postgres_type(column) == postgres
    assert votable_field(column).datatype == votable
    assert votable in VOTABLE_PRIMITIVES
    assert tap_column(column)["datatype"] == votable
    assert adql_type(column) == adql


@pytest.mark.parametrize("datatype", DATATYPES)
def test_bare_datatype_names_work_like_columns(datatype):
    column = Column("x", datatype)
    assert arrow_type(datatype) == arrow_type(column)
    assert duckdb_type(datatype) == duckdb_type(column)
    assert postgres_type(datatype) == postgres_type(column)
    assert votable_field(datatype) == votable_field(column)


def test_unknown_datatype_name_is_a_schema_error():
    with pytest.raises(SchemaError, match="unknown datatype 'int64'.*boolean, byte"):
        duckdb_type("int64")


@pytest.mark.parametrize(
    "datatype, length, postgres, arraysize, size",
    [
        ("char", 8, "VARCHAR(8)", "8", 8),
        ("char", 1, "VARCHAR(1)", None, None),
        ("char", None, "TEXT", "*", None),
        ("string", 32, "VARCHAR(32)", "32*", 32),
        ("string", None, "TEXT", "*", None),
        ("unicode", 10, "VARCHAR(10)", "10*", 10),
        ("binary", 16, "BYTEA", "16*", 16),
        ("text", None, "TEXT", "*", None),
        ("timestamp", None, "TIMESTAMP", "*", None),
        ("long", 8, "BIGINT", None, None),  # a length on a non-sized type means nothing
        ("double", None, "DOUBLE PRECISION", None, None),
    ],
)
def test_length_shapes_sized_types(datatype, length, postgres, arraysize, size):
    column = Column("x", datatype, length=length)
    assert postgres_type(column) == postgres
    assert votable_field(column).arraysize == arraysize
    tap = tap_column(column)
    assert (tap["arraysize"], tap["size"]) == (arraysize, size)


def test_timestamp_carries_the_dali_xtype():
    assert votable_field("timestamp") == ("char", "*", "timestamp")
    assert tap_column("timestamp")["xtype"] == "timestamp"
    assert all(votable_field(d).xtype is None for d in DATATYPES if d != "timestamp")


def test_arrow_schema_names_types_and_nullability():
    columns = [Column("id", "long", nullable=False), Column("band", "char", length=1)]
    schema = arrow_schema(columns)
    assert schema.names == ["id", "band"]
    assert schema.types == [pa.int64(), pa.string()]
    assert [field.nullable for field in schema] == [False, True]


@pytest.mark.parametrize("datatype", DATATYPES)
def test_round_trip_datatype_arrow_datatype(datatype):
    back = datatype_from_arrow(arrow_type(datatype))
    # All character types share one Arrow type, which infers as the general 'string'.
    expected = "string" if datatype in ("char", "unicode", "text") else datatype
    assert back == expected
    assert arrow_type(back) == arrow_type(datatype)


@pytest.mark.parametrize(
    "arrow, datatype",
    [
        (pa.uint8(), "short"),
        (pa.uint16(), "int"),
        (pa.uint32(), "long"),
        (pa.float16(), "float"),
        (pa.large_string(), "string"),
        (pa.string_view(), "string"),
        (pa.large_binary(), "binary"),
        (pa.binary(16), "binary"),
        (pa.timestamp("ns"), "timestamp"),
        (pa.timestamp("ms", tz="UTC"), "timestamp"),
        (pa.dictionary(pa.int32(), pa.string()), "string"),
    ],
)
def test_other_arrow_types_widen_without_loss(arrow, datatype):
    assert datatype_from_arrow(arrow) == datatype


@pytest.mark.parametrize(
    "arrow",
    [pa.uint64(), pa.decimal128(10, 2), pa.date32(), pa.list_(pa.int32()), pa.null(),
     pa.struct([("a", pa.int32())]), pa.duration("s")],
)
def test_unsupported_arrow_types_name_the_column_and_type(arrow):
    with pytest.raises(SchemaError) as info:
        datatype_from_arrow(arrow, "flux")
    assert "'flux'" in str(info.value)
    assert str(arrow) in str(info.value)


def test_duckdb_types_hold_every_datatype_and_round_trip_arrow():
    columns = one_column_each()
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t (" + ", ".join(f"{c.name} {duckdb_type(c)}" for c in columns) + ")"
    )
    rows = pa.Table.from_pylist(
        [{c.name: VALUES[c.datatype] for c in columns}, {c.name: None for c in columns}],
        schema=arrow_schema(columns),
    )
    con.register("incoming", rows)
    con.execute("INSERT INTO t SELECT * FROM incoming")
    back = con.sql("SELECT * FROM t").to_arrow_table()
    assert back.schema.types == rows.schema.types
    assert back.to_pylist() == rows.to_pylist()


@pytest.fixture
def postgres(new_postgres_database):
    """A connection to a fresh, uniquely named PostgreSQL database."""
    connection = psycopg2.connect(new_postgres_database())
    yield connection
    connection.close()


PG_INFORMATION_SCHEMA = {
    "boolean": ("boolean", None),
    "byte": ("smallint", None),
    "short": ("smallint", None),
    "int": ("integer", None),
    "long": ("bigint", None),
    "float": ("real", None),
    "double": ("double precision", None),
    "char": ("character varying", 4),
    "string": ("character varying", 16),
    "unicode": ("character varying", 8),
    "text": ("text", None),
    "binary": ("bytea", None),
    "timestamp": ("timestamp without time zone", None),
}


def test_postgres_types_hold_every_datatype(postgres):
    columns = one_column_each()
    names = ", ".join(c.name for c in columns)
    with postgres.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE t (" + ", ".join(f"{c.name} {postgres_type(c)}" for c in columns) + ")"
        )
        cursor.execute(
            f"INSERT INTO t ({names}) VALUES ({', '.join(['%s'] * len(columns))})",
            [VALUES[c.datatype] for c in columns],
        )
        cursor.execute(f"INSERT INTO t ({names}) VALUES ({', '.join(['NULL'] * len(columns))})")
        cursor.execute(f"SELECT {names} FROM t")
        stored, nulls = cursor.fetchall()
        cursor.execute(
            "SELECT column_name, data_type, character_maximum_length "
            "FROM information_schema.columns WHERE table_name = 't'"
        )
        declared = {name: (kind, length) for name, kind, length in cursor.fetchall()}
    back = [bytes(value) if isinstance(value, memoryview) else value for value in stored]
    assert back == [VALUES[c.datatype] for c in columns]  # char(4) 'ab' comes back unpadded
    assert nulls == (None,) * len(columns)
    assert declared == {f"c_{d}": PG_INFORMATION_SCHEMA[d] for d in DATATYPES}


def test_postgres_types_without_lengths_are_valid(postgres):
    columns = one_column_each(lengths=False)
    with postgres.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE t (" + ", ".join(f"{c.name} {postgres_type(c)}" for c in columns) + ")"
        )
        cursor.execute("INSERT INTO t (c_char, c_string) VALUES (%s, %s)", ["x" * 1000] * 2)


def test_postgres_enforces_declared_string_lengths(postgres):
    column = Column("s", "string", length=3)
    with postgres.cursor() as cursor:
        cursor.execute(f"CREATE TABLE t (s {postgres_type(column)})")
        with pytest.raises(psycopg2.errors.StringDataRightTruncation):
            cursor.execute("INSERT INTO t VALUES ('abcd')")
