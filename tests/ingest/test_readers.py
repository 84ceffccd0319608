"""Tests of qserv.ingest.readers: round trips of every format through files written here, streaming
in small pieces, and errors that name the file, the row and the column."""

import datetime
import gzip

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qserv.errors import UserError
from qserv.errors import InputError
from qserv.ingest.readers import detect_format, read_batches
from qserv.schema.columns import Column
from qserv.schema.types import arrow_schema

COLUMNS = [
    Column("id", "long", nullable=False),
    Column("flag", "boolean"),
    Column("tiny", "byte"),
    Column("small", "short"),
    Column("count", "int"),
    Column("ra", "double"),
    Column("mag", "float"),
    Column("name", "string"),
    Column("note", "text"),
    Column("blob", "binary"),
    Column("seen", "timestamp"),
]
T = datetime.datetime
ROWS = [
    (1, True, -128, 32767, -5, 359.999999999, 1.5, "Sirius", "plain", b"ab", T(2024, 1, 2, 3, 4, 5, 123456)),
    (2, False, 127, -1, 2**31 - 1, -0.0, -2.25, "", "", b"", T(1999, 12, 31, 23, 59, 59)),
    (3, None, None, None, None, None, None, None, None, None, None),
    (4, True, 0, 0, 0, 1e-300, 3.0, "Ωmega ☆ naïve", "tab\there\nnewline\\back", b"\x00\xff\n\t\\",
     T(2000, 1, 1)),
    (5, False, 1, 2, 3, 4.5, 6.0, "\\N", "N", b"\\N", T(2001, 2, 3, 4, 5, 6)),
]


def expected(rows=ROWS, columns=COLUMNS):
    names = [c.name for c in columns]
    return pa.Table.from_pylist([dict(zip(names, row)) for row in rows], schema=arrow_schema(columns))


def read(path, columns=COLUMNS, **options):
    return pa.Table.from_batches(list(read_batches(path, columns, **options)), schema=arrow_schema(columns))


def mysql_field(value):
    """A value as SELECT ... INTO OUTFILE writes it (backslash before backslash, tab, newline)."""
    if value is None:
        return b"\\N"
    if isinstance(value, bool):
        return b"1" if value else b"0"
    raw = value if isinstance(value, bytes) else str(value).encode()
    for plain, escaped in ((b"\\", b"\\\\"), (b"\t", b"\\\t"), (b"\n", b"\\\n"), (b"\0", b"\\0")):
        raw = raw.replace(plain, escaped)
    return raw


def write_mysql(path, rows, final_newline=True):
    text = b"\n".join(b"\t".join(mysql_field(v) for v in row) for row in rows)
    path.write_bytes(text + (b"\n" if final_newline else b""))
    return path


def csv_field(value, delimiter):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (bytes, str)):
        text = value.decode() if isinstance(value, bytes) else value
        return '"' + text.replace('"', '""') + '"'
    return str(value)


def write_csv(path, names, rows, delimiter=","):
    lines = [delimiter.join(names)] + [delimiter.join(csv_field(v, delimiter) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# CSV is text: the row with non-UTF-8 bytes gets a printable binary value.
TEXT_ROWS = [row[:9] + (b"x\t\"y",) + row[10:] if row[0] == 4 else row for row in ROWS]


# --- round trips ---------------------------------------------------------------------------------

def test_parquet_round_trip_in_any_column_order(tmp_path):
    table = expected()
    pq.write_table(table.select(list(reversed(table.column_names))), tmp_path / "t.parquet")
    assert read(tmp_path / "t.parquet").equals(table)


def test_parquet_values_are_cast_safely_to_the_column_types(tmp_path):
    table = pa.table({"id": pa.array([1, 2], pa.int32()), "small": pa.array([7, 8], pa.int64()),
                      "ra": pa.array([1, 2], pa.int64()), "name": pa.array(["a", "b"]).dictionary_encode()})
    pq.write_table(table, tmp_path / "t.pq")
    got = read(tmp_path / "t.pq")
    assert got.schema == arrow_schema(COLUMNS)
    assert got.column("small").to_pylist() == [7, 8] and got.column("ra").to_pylist() == [1.0, 2.0]
    assert got.column("name").to_pylist() == ["a", "b"]
    assert got.column("seen").null_count == 2  # missing nullable columns are NULL


def test_csv_round_trip_with_quotes_unicode_and_empty_strings(tmp_path):
    path = write_csv(tmp_path / "t.csv", [c.name for c in COLUMNS], TEXT_ROWS)
    assert read(path).equals(expected(TEXT_ROWS))


def test_csv_unquoted_empty_field_is_null_and_quoted_empty_string_is_not(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('id,ra,name\n1,,\n2,3.5,""\n')
    got = read(path, [Column("id", "long"), Column("ra", "double"), Column("name", "string")])
    assert got.to_pydict() == {"id": [1, 2], "ra": [None, 3.5], "name": [None, ""]}


def test_tsv_with_a_null_marker(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text('name\tra\tid\n\\N\t\\N\t1\n\t2.5\t2\n"\\N"\t3\t3\n')
    got = read(path, [Column("id", "long"), Column("ra", "double"), Column("name", "string")], null="\\N")
    assert got.to_pydict() == {"id": [1, 2, 3], "ra": [None, 2.5, 3.0], "name": [None, "", "\\N"]}


def test_mysql_round_trip_with_escapes_nulls_and_empty_strings(tmp_path):
    path = write_mysql(tmp_path / "t.mysql", ROWS)
    got = read(path)
    assert got.equals(expected())
    assert got.column("name").to_pylist()[1:5:3] == ["", "\\N"]  # empty and the text \N, not NULL


def test_mysql_named_escapes_and_a_missing_final_newline(tmp_path):
    path = tmp_path / "t.dump"
    path.write_bytes(b"1\ta\\tb\\nc\\rd\\be\\Zf\\0g\\qh\n2\t\\N\n3\t")
    got = read(path, [Column("id", "int"), Column("s", "string")])
    assert got.column("s").to_pylist() == ["a\tb\nc\rd\be\x1af\x00gqh", None, ""]


def test_mysql_custom_null_marker(tmp_path):
    path = tmp_path / "t.mysql"
    path.write_bytes(b"NULL\tNULL\n1\t\\N\n")
    got = read(path, [Column("id", "int"), Column("s", "string")], null="NULL")
    assert got.to_pydict() == {"id": [None, 1], "s": [None, "N"]}


def write_text(path, name, rows):
    """Rows of (id, s) as CSV or as MySQL text, as the file name says."""
    return write_csv(path, ["id", "s"], rows) if ".csv" in name else write_mysql(path, rows)


@pytest.mark.parametrize("name", ["t.csv.gz", "t.mysql.gz"])
def test_compressed_text_is_read(tmp_path, name):
    columns = [Column("id", "long"), Column("s", "string")]
    rows = [(1, "a"), (2, "b")]
    plain = write_text(tmp_path / "p", name, rows)
    (tmp_path / name).write_bytes(gzip.compress(plain.read_bytes()))
    assert read(tmp_path / name, columns).equals(expected(rows, columns))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.text(alphabet="ab\\\t\nN\0Ω", max_size=6) | st.none(),
                          st.integers(-2**63, 2**63 - 1)), min_size=1, max_size=12),
       st.integers(1, 40))
def test_mysql_escaping_survives_any_block_size(tmp_path_factory, rows, block_bytes):
    columns = [Column("s", "string"), Column("n", "long", nullable=False)]
    path = write_mysql(tmp_path_factory.mktemp("m") / "t.mysql", rows)
    got = read(path, columns, block_bytes=block_bytes, batch_rows=3)
    assert got.to_pylist() == [{"s": s, "n": n} for s, n in rows]


@pytest.mark.parametrize("fmt", ["parquet", "csv", "tsv", "mysql"])
def test_streaming_in_small_pieces_gives_the_same_table(tmp_path, fmt):
    rng = np.random.default_rng(7)
    n = 3000
    columns = [Column("id", "long", nullable=False), Column("ra", "double"), Column("name", "string")]
    rows = [(i, float(x) if i % 7 else None, f"s\t{i}" if fmt == "mysql" else f"s {i}")
            for i, x in enumerate(rng.uniform(0, 360, n))]
    path = tmp_path / f"t.{fmt}"
    if fmt == "parquet":
        pq.write_table(expected(rows, columns), path, row_group_size=700)
    elif fmt == "mysql":
        write_mysql(path, rows)
    else:
        write_csv(path, ["id", "ra", "name"], rows, "," if fmt == "csv" else "\t")
    whole = read(path, columns)
    batches = list(read_batches(path, columns, batch_rows=100, block_bytes=1000))
    assert len(batches) >= n // 100 and max(b.num_rows for b in batches) <= 100
    assert pa.Table.from_batches(batches).equals(whole)
    assert whole.equals(expected(rows, columns))


def test_format_from_the_extension():
    assert [detect_format(n) for n in ("a.PARQUET", "a.pq", "b.csv", "b.csv.gz", "c.tsv", "c.txt",
                                       "d.mysql", "d.dump.bz2")] == \
        ["parquet", "parquet", "csv", "csv", "tsv", "tsv", "mysql", "mysql"]
    assert detect_format("x.dat", "csv") == "csv"


# --- errors --------------------------------------------------------------------------------------

def fails(path, columns=COLUMNS, **options):
    with pytest.raises(InputError) as caught:
        read(path, columns, **options)
    assert str(path) in str(caught.value)
    return caught.value


def where(error):
    return error.row, error.line, error.column


def test_errors_are_user_errors(tmp_path):
    error = fails(tmp_path / "missing.csv")
    assert isinstance(error, UserError) and error.exit_code == 2
    assert "cannot open" in str(error)


def test_unknown_format_and_extension(tmp_path):
    (tmp_path / "a.dat").write_text("x")
    assert "cannot tell the format" in str(fails(tmp_path / "a.dat"))
    assert "unknown format 'xml'" in str(fails(tmp_path / "a.dat", format="xml"))


def test_truncated_parquet(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(expected(), path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert "not a readable Parquet file" in str(fails(path))


def test_parquet_value_that_does_not_fit(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"id": [1, 2, 3], "count": [1, 2**40, 3]}), path, row_group_size=2)
    error = fails(path, batch_rows=2)
    assert where(error) == (2, None, "count") and "1099511627776" in str(error)


def test_parquet_text_that_is_not_a_number(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"id": [1, 2, 3], "ra": ["1.5", "2", "abc"]}), path)
    error = fails(path)
    assert where(error) == (3, None, "ra") and "cannot read 'abc' as double" in str(error)


def test_parquet_column_of_an_incompatible_type(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"id": [1], "ra": [[1.0, 2.0]]}), path)
    error = fails(path)
    assert error.column == "ra" and "cannot be read as double" in str(error)


def test_parquet_null_in_a_non_nullable_column(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"id": [1, None]}), path)
    assert where(fails(path)) == (2, None, "id")


def test_header_with_extra_missing_and_repeated_columns(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id,dec,Ra,name\n1,2,3,x\n")
    assert "the header has column(s) the table does not: dec, Ra" in str(fails(path))
    path.write_text("ra,name\n1,x\n")
    assert "the header lacks non-nullable column(s): id" in str(fails(path))
    path.write_text("id,ra,ra\n1,2,3\n")
    assert "the header names column(s) more than once: ra" in str(fails(path))
    path.write_text("")
    assert "no header row" in str(fails(path))


def test_csv_last_line_cut_short(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id,ra,name\n1,2.5,a\n2,3.5,b\n3,4.")
    error = fails(path)
    assert where(error) == (3, None, "name") and "expected 3 fields, found 2" in str(error)


def test_csv_row_with_too_many_fields(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("id\tname\n1\ta\n2\tb\tc\n")
    error = fails(path)
    assert where(error) == (2, None, "name") and "found 3" in str(error)


@pytest.mark.parametrize("block_bytes", [16 << 20, 64])
def test_csv_value_that_does_not_parse(tmp_path, block_bytes):
    path = tmp_path / "t.csv"
    path.write_text("ra,id\n" + "".join(f"{i}.5,{i}\n" for i in range(1, 20)) + "abc,20\n21,21\n")
    error = fails(path, block_bytes=block_bytes)
    assert where(error) == (20, None, "ra") and "cannot read 'abc' as double" in str(error)


def test_csv_invalid_utf8_in_a_string_column(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"id,name\n1,ok\n2,\xff\xfe\n")
    assert where(fails(path)) == (2, None, "name")


def test_csv_null_in_a_non_nullable_column(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id,ra\n1,2\n,3\n")
    error = fails(path)
    assert where(error) == (2, None, "id") and "NULL in a non-nullable column" in str(error)


def test_mysql_wrong_field_count_after_an_escaped_newline(tmp_path):
    path = tmp_path / "t.mysql"
    path.write_bytes(b"1\ta\n2\tb\\\nc\n3\n")
    error = fails(path, [Column("id", "int"), Column("s", "string")], block_bytes=5)
    assert where(error) == (3, 4, "s") and "expected 2 fields, found 1" in str(error)
    assert str(error).startswith(f"{path}, row 3 (line 4), column 's': ")
    path.write_bytes(b"1\ta\tb\n")
    assert where(fails(path, [Column("id", "int"), Column("s", "string")])) == (1, 1, "s")


def test_mysql_value_that_does_not_parse(tmp_path):
    path = write_mysql(tmp_path / "t.mysql", [(1, "a", "1.5"), (2, "x\ny", "2"), (3, "b", "abc")])
    error = fails(path, [Column("id", "int"), Column("s", "string"), Column("ra", "double")])
    assert where(error) == (3, 4, "ra") and "cannot read 'abc' as double" in str(error)


def test_mysql_null_in_a_non_nullable_column(tmp_path):
    path = write_mysql(tmp_path / "t.mysql", [(1, "a"), (None, "b")])
    assert where(fails(path, [Column("id", "int", nullable=False), Column("s", "string")])) == (2, 2, "id")


def test_mysql_file_ending_inside_an_escape(tmp_path):
    path = tmp_path / "t.mysql"
    path.write_bytes(b"1\ta\n2\tb\\")
    error = fails(path, [Column("id", "int"), Column("s", "string")])
    assert error.row == 2 and "ends inside an escape" in str(error)


@pytest.mark.parametrize("name", ["t.csv.gz", "t.mysql.gz"])
def test_truncated_compressed_text(tmp_path, name):
    rows = [(i, "abc") for i in range(20000)]
    plain = write_text(tmp_path / "p", name, rows)
    packed = gzip.compress(plain.read_bytes())
    (tmp_path / name).write_bytes(packed[: len(packed) // 2])
    error = fails(tmp_path / name, [Column("id", "long"), Column("s", "string")], block_bytes=4096)
    assert "Truncated compressed stream" in str(error)
    # pyarrow's CSV reader reads ahead, so it may fail before yielding the rows it has
    assert error.row > 1 if "mysql" in name else error.row >= 1


@pytest.mark.parametrize("block_bytes", [16 << 20, 64])
def test_csv_errors_after_quoted_newlines_give_the_physical_line(tmp_path, block_bytes):
    path = tmp_path / "t.csv"
    path.write_text('id,ra,name\n1,2.5,"two\nlines"\n2,3.5,"say ""hi""\nthen\nbye"\n3,abc,c\n4,1,d\n')
    error = fails(path, block_bytes=block_bytes)
    assert where(error) == (3, 7, "ra") and "cannot read 'abc' as double" in str(error)
    assert str(error).startswith(f"{path}, row 3 (line 7), column 'ra': ")
    path.write_text('id,ra,name\n1,2.5,"a\nb"\n,3,c\n')
    assert where(fails(path)) == (2, 4, "id")
    path.write_text('id,ra,name\n1,2.5,"a\nb"\n2,3.5,x,y\n')
    assert where(fails(path)) == (2, 4, "name")


def test_csv_quoted_newline_after_the_bad_row_changes_nothing(tmp_path):
    path = tmp_path / "t.csv.gz"
    with gzip.open(path, "wt") as out:
        out.write('id,ra,name\n1,abc,x\n2,3,"a\nb"\n')
    assert where(fails(path)) == (1, None, "ra")
