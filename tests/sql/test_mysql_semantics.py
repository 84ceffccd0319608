"""Qserv SQL's MySQL semantics (qserv.sql.mysql) on DuckDB and PostgreSQL workers, against a
brute-force Python model of MySQL/MariaDB: LIKE (case-insensitive, numbers as text, ``\\``
escapes), ``/`` of integers (DECIMAL, 4 decimals, half away from zero), DIV (truncating), and
the bit operators on unsigned 64-bit integers."""

import itertools
import re
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

import pytest

from qserv.exec.postgres_worker import READER_ROLE
from qserv.query.tables import Partitioning, TableInfo
from qserv.schema.columns import Column
from qserv.sql.dialects import parse, resolve_identifiers, to_sql
from qserv.sql.mysql import mysql_semantics

INTEGERS = [-7, 7, 0, 2, -3, 1, -1, 60, 63, 64, 123456789012345678, 9223372036854775807, -9223372036854775807]
FLOATS = [7.5, -7.5, 0.0, 2.25, -0.4]
TEXTS = ["AbC", "abc", "a_c", "a%c", "xyz", "ABCD", "a\\c"]
PATTERNS = ["a%", "ABC", "a\\_c", "a\\%c", "%C", "_B_", "a_c", "1%", "-%", "%5"]
TABLE = TableInfo("db", "t", "replicated", (Column("i", "long"), Column("j", "long"), Column("x", "double"),
                                            Column("s", "string")), Partitioning(4, 7, 300.0))
U64 = 2 ** 64


@pytest.fixture(scope="module")
def worker(sql_worker):
    sql_worker.execute('CREATE TABLE "t" ("i" BIGINT, "j" BIGINT, "x" DOUBLE PRECISION, "s" VARCHAR)')
    if sql_worker.backend == "postgres":
        sql_worker.execute(f'GRANT SELECT ON "t" TO {READER_ROLE}')
    return sql_worker


def run(worker, select_list, where=None):
    """The values of ``select_list`` (Qserv SQL over table t) for one row of t set to ``where``."""
    text = f"SELECT {select_list} FROM t" + (f" WHERE {where}" if where else "")
    tree = mysql_semantics(resolve_identifiers(parse(text, "qserv"), {"db.t": TABLE.column_names},
                                               default_database="db"), {"db.t": TABLE})
    sql = to_sql(tree, worker.backend).replace('"db"."t"', '"t"')
    return [{name: float(value) if isinstance(value, Decimal) and value.as_tuple().exponent < 0 else value
             for name, value in row.items()} for row in worker.query(sql).to_pylist()]


def load(worker, rows):
    worker.execute('DELETE FROM "t"')
    values = ", ".join(f"({i}, {j}, {x!r}, '{s}')" for i, j, x, s in rows)
    worker.execute(f'INSERT INTO "t" VALUES {values}')


def like(value, pattern):
    """MySQL LIKE with the default collation: case-insensitive, ``\\`` escapes the next character."""
    regex = "".join(".*" if part == "%" else "." if part == "_" else re.escape(part[-1])
                    for part in re.findall(r"\\.|.", pattern))
    return re.fullmatch(regex, str(value), re.IGNORECASE | re.DOTALL) is not None


def divide(a, b):
    return None if b == 0 else float((Decimal(a) / Decimal(b)).quantize(Decimal("0.0001"), ROUND_HALF_UP))


def int_div(a, b):
    return None if b == 0 else int((Decimal(a) / Decimal(b)).to_integral_value(ROUND_DOWN))


def shift(value, count, left):
    if not 0 <= count <= 63:
        return 0
    unsigned = value % U64
    return (unsigned << count) % U64 if left else unsigned >> count


def test_like_is_case_insensitive_and_reads_numbers_as_text(worker):
    rows = [(i, 1, 0.5, s) for i, s in zip(INTEGERS, itertools.cycle(TEXTS))] + \
        [(0, 1, 0.5, s) for s in TEXTS]
    load(worker, rows)
    for pattern in PATTERNS:
        literal = pattern.replace("\\", "\\\\")
        got = run(worker, f"s LIKE '{literal}' AS a, s NOT LIKE '{literal}' AS b, i LIKE '{literal}' AS c")
        expected = [[like(s, pattern), not like(s, pattern), like(i, pattern)] for i, _, _, s in rows]
        assert [list(row.values()) for row in got] == expected, pattern


def test_integer_division_and_div(worker):
    pairs = list(itertools.product(INTEGERS[:10] + [123456789012345678], [2, -2, 3, 7, 0, -1]))
    load(worker, [(a, b, 0.0, "") for a, b in pairs])
    got = run(worker, "i / j AS a, i DIV j AS b, -i DIV j AS c")
    assert [list(row.values()) for row in got] == \
        [[divide(a, b), int_div(a, b), int_div(-a, b)] for a, b in pairs]
    load(worker, [(0, b, x, "") for x in FLOATS for b in (2, -3, 0)])
    got = run(worker, "x DIV j AS a, x / j AS b")
    assert [list(row.values()) for row in got] == \
        [[int_div(x, b), None if b == 0 else x / b] for x in FLOATS for b in (2, -3, 0)]


def test_bit_operators_are_unsigned_64_bit(worker):
    pairs = list(itertools.product(INTEGERS, [3, -1, 0, 60, 63, 64, -2, 5]))
    load(worker, [(a, b, 0.0, "") for a, b in pairs])
    got = run(worker, "i & j AS a, i | j AS b, i ^ j AS c, ~i AS d, i << j AS e, i >> j AS f, (i | 1) << 2 AS g")
    # PostgreSQL workers return NUMERIC (the unsigned results) as float64
    exact = int if worker.backend == "duckdb" else float
    assert [[exact(value) for value in row.values()] for row in got] == [[exact(value) for value in row] for row in [
        [(a & b) % U64, (a | b) % U64, (a ^ b) % U64, U64 - 1 - a % U64, shift(a, b, True),
         shift(a, b, False), shift(a | 1, 2, True)] for a, b in pairs]]


def test_hex(worker):
    rows = [(i, 0, x, s) for i, x, s in zip(INTEGERS, itertools.cycle(FLOATS + [-2.5]), itertools.cycle(TEXTS + ["é"]))]
    load(worker, rows)
    got = run(worker, "HEX(i) AS a, HEX(x) AS b, HEX(s) AS c, HEX(CONCAT(s, s)) AS d")
    number = lambda v: format(int(Decimal(v).to_integral_value(ROUND_HALF_UP)) % U64, "X")
    assert [list(row.values()) for row in got] == \
        [[number(i), number(x), s.encode().hex().upper(), (s + s).encode().hex().upper()] for i, _, x, s in rows]


def test_adql_keeps_adql_semantics():
    tree = resolve_identifiers(parse("SELECT s FROM t WHERE s LIKE 'a%' AND i / j > 1", "adql"),
                               {"t": TABLE.column_names})
    sql = to_sql(tree, "duckdb")
    assert " LIKE 'a%'" in sql and "ILIKE" not in sql and "QSERV_MYSQL" not in sql.upper()
