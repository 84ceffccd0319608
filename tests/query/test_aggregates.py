"""Differential tests of qserv.query.aggregates: worker per chunk + merge == the query on the table."""

import decimal
import math
import random

import duckdb
import pyarrow as pa
import pytest

from qserv.errors import UnsupportedQueryError, UserError
from qserv.query.aggregates import PARTIALS, split_aggregates
from qserv.sql.dialects import parse, to_sql

CHUNKS = 5
GROUPS = ("alpha", "beta", "gamma", "delta", "allnull")


@pytest.fixture(scope="module")
def con():
    rng = random.Random(20261121)
    rows = []
    for i in range(3000):
        g = rng.choice(GROUPS)
        x = None if g == "allnull" or rng.random() < 0.2 else rng.uniform(-100, 100)
        a = None if rng.random() < 0.1 else rng.randint(-50, 500)
        rows.append((i, a, x, rng.gauss(0, 1), g, rng.randint(0, 9)))
    db = duckdb.connect()
    db.execute("CREATE TABLE whole (id INTEGER, a INTEGER, x DOUBLE, y DOUBLE, g VARCHAR, k INTEGER)")
    db.executemany("INSERT INTO whole VALUES (?, ?, ?, ?, ?, ?)", rows)
    for chunk in range(CHUNKS):
        db.execute(f"CREATE TABLE chunk{chunk} AS SELECT * FROM whole "
                   f"WHERE hash(id) % {CHUNKS} = {chunk}")
    sizes = [db.execute(f"SELECT COUNT(*) FROM chunk{c}").fetchone()[0] for c in range(CHUNKS)]
    assert sum(sizes) == 3000 and min(sizes) > 0
    return db


def _use(db, source):
    """Make the table ``t`` the queries read be ``source`` (a chunk, or the whole table)."""
    db.execute(f"CREATE OR REPLACE VIEW t AS SELECT * FROM {source}")


def _fetch(db, sql):
    result = db.execute(sql)
    return [d[0] for d in result.description], result.fetchall()


def _split_run(db, query, lang):
    split = split_aggregates(parse(query, lang))
    worker_sql = to_sql(split.worker, "duckdb")
    partials = []
    for chunk in range(CHUNKS):
        _use(db, f"chunk{chunk}")
        partials.append(db.sql(worker_sql).to_arrow_table())
    partials = pa.concat_tables(partials)
    db.register(PARTIALS, partials)
    try:
        return _fetch(db, to_sql(split.merge, "duckdb"))
    finally:
        db.unregister(PARTIALS)


def _reference(db, query, lang):
    _use(db, "whole")
    return _fetch(db, to_sql(parse(query, lang), "duckdb"))


def _value(v):
    return float(v) if isinstance(v, (int, float, decimal.Decimal)) and not isinstance(v, bool) else v


def _key(row):
    return tuple((v is None, str(type(v).__name__), v if v is not None else 0) for v in row)


def _same(got, want):
    assert len(got) == len(want), (got, want)
    for g_row, w_row in zip(got, want):
        assert len(g_row) == len(w_row)
        for g, w in zip(g_row, w_row):
            if isinstance(w, float) and g is not None:
                assert math.isclose(g, w, rel_tol=1e-9, abs_tol=1e-9), (g_row, w_row)
            else:
                assert g == w, (g_row, w_row)


QUERIES = [
    "SELECT COUNT(*) FROM t",
    "SELECT COUNT(a), COUNT(x), COUNT(*) FROM t",
    "SELECT SUM(a), SUM(x), MIN(a), MAX(a), MIN(x), MAX(x) FROM t",
    "SELECT AVG(a), AVG(x), AVG(y) FROM t",
    "SELECT MIN(g), MAX(g) FROM t",
    "SELECT COUNT(*), SUM(x), AVG(x), MIN(x), MAX(x) FROM t WHERE 1 = 0",
    "SELECT COUNT(*) AS n, SUM(a) AS s FROM t WHERE id < 0",
    "SELECT AVG(x), SUM(x), COUNT(x) FROM t WHERE g = 'allnull'",
    "SELECT g, AVG(x), COUNT(x), MIN(x) FROM t GROUP BY g",
    "SELECT g, COUNT(*) AS n FROM t GROUP BY g HAVING COUNT(*) > 590",
    "SELECT g, COUNT(*) AS n FROM t GROUP BY g HAVING n > 590",
    "SELECT g, SUM(a) FROM t GROUP BY g HAVING AVG(x) > 0 OR AVG(x) IS NULL",
    "SELECT g, COUNT(*) AS n FROM t GROUP BY g ORDER BY n DESC, g LIMIT 3",
    "SELECT g, k, COUNT(*) FROM t GROUP BY g, k ORDER BY COUNT(*) DESC, g, k LIMIT 5",
    "SELECT g, SUM(a) FROM t GROUP BY g ORDER BY 2 DESC",
    "SELECT g, MAX(x) FROM t GROUP BY 1 ORDER BY 1 LIMIT 2 OFFSET 1",
    "SELECT SUM(a) / COUNT(*), MAX(x) - MIN(x), 2 * AVG(y) + 1 FROM t",
    "SELECT g, SUM(a) / COUNT(a) AS mean_a, MAX(a) - MIN(a) AS spread FROM t GROUP BY g",
    "SELECT k % 3 AS m, COUNT(*), SUM(x) FROM t GROUP BY k % 3",
    "SELECT k % 3 AS m, COUNT(*) FROM t GROUP BY m ORDER BY m",
    "SELECT COUNT(*) + 1, 7 FROM t WHERE a > 100",
    "SELECT COUNT(DISTINCT k) FROM t",
    "SELECT COUNT(DISTINCT g) FROM t WHERE x > 0",
    "SELECT g, COUNT(DISTINCT k) FROM t GROUP BY g",
    "SELECT COUNT(DISTINCT a), COUNT(*), SUM(x), AVG(a) FROM t",
    "SELECT g, COUNT(DISTINCT a) AS d, MAX(y) FROM t GROUP BY g HAVING COUNT(DISTINCT a) > 10",
    "SELECT COUNT(DISTINCT k) FROM t WHERE 1 = 0",
    "SELECT COUNT(DISTINCT k), COUNT(*), COUNT(x), SUM(a), AVG(x) FROM t WHERE 1 = 0",
    "SELECT DISTINCT g FROM t",
    "SELECT DISTINCT g, k FROM t WHERE x > 50",
    "SELECT DISTINCT g FROM t ORDER BY g DESC LIMIT 2",
    "SELECT DISTINCT k FROM t ORDER BY k LIMIT 3 OFFSET 2",
    "SELECT DISTINCT g, k FROM t GROUP BY g, k",
    "SELECT id, x FROM t WHERE x > 90",
    "SELECT id, a + k AS s FROM t WHERE a IS NULL",
    "SELECT id, x FROM t ORDER BY x DESC, id LIMIT 10",
    "SELECT id FROM t ORDER BY y LIMIT 7",
    "SELECT id, g FROM t ORDER BY id LIMIT 5 OFFSET 100",
    "SELECT id AS ident FROM t WHERE g = 'beta' ORDER BY ident DESC LIMIT 4",
    "SELECT id FROM t ORDER BY 1 DESC LIMIT 3",
    "SELECT id, y * 2 FROM t ORDER BY y * 2 LIMIT 6",
    "SELECT * FROM t WHERE id < 20",
    "SELECT * FROM t ORDER BY t.id DESC LIMIT 4",
    "SELECT t.* FROM t WHERE k = 1 ORDER BY id LIMIT 3",
    "SELECT id FROM t ORDER BY id LIMIT 20 OFFSET 2990",
    "SELECT id FROM t WHERE 1 = 0 ORDER BY id LIMIT 5",
]
ADQL = [
    "SELECT TOP 5 id, x FROM t WHERE x IS NOT NULL ORDER BY x",
    "SELECT TOP 3 g, AVG(x) AS ax FROM t GROUP BY g ORDER BY ax DESC",
    "SELECT COUNT(*) AS n, AVG(y) FROM t WHERE y BETWEEN -1 AND 1",
]


@pytest.mark.parametrize(("query", "lang"), [(q, "qserv") for q in QUERIES] + [(q, "adql") for q in ADQL])
def test_split_matches_whole_table(con, query, lang):
    got_names, got = _split_run(con, query, lang)
    want_names, want = _reference(con, query, lang)
    assert len(got_names) == len(want_names)
    got, want = [tuple(map(_value, r)) for r in got], [tuple(map(_value, r)) for r in want]
    if "ORDER BY" not in query:
        got, want = sorted(got, key=_key), sorted(want, key=_key)
    _same(got, want)


def test_limit_without_order_keeps_row_count(con):
    names, rows = _split_run(con, "SELECT id FROM t WHERE k = 3 LIMIT 12", "qserv")
    assert names == ["id"] and len(rows) == 12


def test_merge_keeps_user_column_names(con):
    names, _ = _split_run(con, "SELECT g AS grp, COUNT(*) AS n, t.k, MAX(x) FROM t GROUP BY g, t.k",
                          "qserv")
    assert names == ["grp", "n", "k", "MAX(x)"]


def test_top_k_is_pushed_to_workers():
    split = split_aggregates(parse("SELECT id FROM t ORDER BY y DESC LIMIT 5 OFFSET 3", "qserv"))
    assert split.worker.args["limit"].expression.name == "8"
    assert split.worker.args.get("order") is not None
    assert split.worker.args.get("offset") is None
    assert split.merge.args["offset"].expression.name == "3"


def test_aggregate_merge_reads_partials_and_worker_keeps_where():
    split = split_aggregates(parse("SELECT g, COUNT(*) FROM t WHERE a > 1 GROUP BY g "
                                   "HAVING COUNT(*) > 1 ORDER BY g LIMIT 2", "qserv"))
    assert split.merge.args["from_"].this.name == PARTIALS
    assert split.merge.args.get("where") is None and split.worker.args.get("where") is not None
    for clause in ("having", "order", "limit"):
        assert split.worker.args.get(clause) is None and split.merge.args.get(clause) is not None


@pytest.mark.parametrize(("query", "construct"), [
    ("SELECT COUNT(DISTINCT a), COUNT(DISTINCT k) FROM t", "COUNT(DISTINCT"),
    ("SELECT COUNT(DISTINCT a, k) FROM t", "several expressions"),
    ("SELECT SUM(DISTINCT a) FROM t", "SUM(DISTINCT"),
    ("SELECT AVG(DISTINCT a) FROM t", "AVG(DISTINCT"),
    ("SELECT STDDEV(x) FROM t", "STDDEV"),
    ("SELECT GROUP_CONCAT(g) FROM t", "GROUP_CONCAT"),
    ("SELECT scisql_median(x) FROM t", "scisql_median"),
    ("SELECT id, ROW_NUMBER() OVER (ORDER BY id) FROM t", "window"),
    ("SELECT SUM(x) OVER (PARTITION BY g) FROM t", "window"),
    ("SELECT g, x, COUNT(*) FROM t GROUP BY g", "x must be in GROUP BY"),
    ("SELECT *, COUNT(*) FROM t", "GROUP BY"),
    ("SELECT id FROM t WHERE a IN (SELECT a FROM t)", "subqueries"),
    ("SELECT g, COUNT(*) FROM t GROUP BY g WITH ROLLUP", "ROLLUP"),
    ("SELECT DISTINCT g FROM t ORDER BY x", "DISTINCT"),
    ("SELECT id FROM t ORDER BY 3", "position 3"),
    ("SELECT *, id FROM t", "SELECT *"),
    ("SELECT id FROM t HAVING id > 1", "HAVING"),
    ("SELECT MAX(COUNT(*)) FROM t", "nested"),
    ("SELECT id FROM t UNION SELECT id FROM t", "UNION"),
])
def test_refusals_name_the_construct(query, construct):
    with pytest.raises(UnsupportedQueryError) as caught:
        split_aggregates(parse(query, "qserv"))
    assert isinstance(caught.value, UserError)
    assert construct.lower() in str(caught.value).lower()
