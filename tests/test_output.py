"""Result formats of qserv.output: TSV has no quoting and escapes tab, newline, CR and backslash."""

import csv
import io
import re

import pyarrow as pa
import pytest

from qserv.output import render

NASTY = ["plain", "tab\there", "new\nline", "cr\rlf\r\n", "back\\slash", "\\t literal", '"quoted"', "", None]


def unescape(field):
    return re.sub(r"\\(.)", lambda m: {"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}[m.group(1)], field)


def test_tsv_escapes_and_never_quotes():
    table = pa.table({"text": NASTY, "n": list(range(len(NASTY)))})
    lines = render(table, "tsv").decode().split("\n")
    assert lines[-1] == "" and len(lines) == len(NASTY) + 2  # one physical line per row
    assert lines[0] == "text\tn"
    fields = [line.split("\t") for line in lines[1:-1]]
    assert all(len(row) == 2 for row in fields)
    assert [unescape(row[0]) for row in fields] == [value or "" for value in NASTY]  # NULL is empty
    assert [int(row[1]) for row in fields] == list(range(len(NASTY)))
    assert not any(row[0].startswith('"') and row[0] != '"quoted"' for row in fields)


def test_tsv_header_is_escaped_too():
    table = pa.table({"a\tb": [1], 'c"d': [2]})
    assert render(table, "tsv").decode().splitlines()[0] == 'a\\tb\tc"d'


@pytest.mark.parametrize("column", [
    pa.array([1.5, None, 1e20, 0.1, -0.0]),
    pa.array([1, None, -4, 2**40, 0], pa.int64()),
    pa.array([True, False, None, True, True]),
    pa.array([1.25, None, 3.0, 2.5, 0.1], pa.float32()),
])
def test_tsv_numbers_read_as_in_csv(column):
    table = pa.table({"x": column})
    from_csv = [row[0] if row else "" for row in csv.reader(io.StringIO(render(table, "csv").decode()))][1:]
    from_tsv = render(table, "tsv").decode().splitlines()[1:]
    assert from_tsv == from_csv and len(from_tsv) == len(column)


def test_tsv_binary_is_hex_and_empty_table_has_a_header():
    table = pa.table({"b": pa.array([b"\x00\xff", None], pa.binary())})
    assert render(table, "tsv").decode().splitlines() == ["b", "00ff", ""]
    empty = pa.table({"a": pa.array([], pa.int64()), "b": pa.array([], pa.string())})
    assert render(empty, "tsv") == b"a\tb\n"
