"""User errors are 400 / exit 2 naming the problem, never 500 (issue 14, items 4 and 5), on both
backends: deep nesting, bad LIMIT/TOP values, malformed table names, out-of-range director ids,
conversion errors on the workers and at the czar, and queries evaluated at the czar past their
time limit. Results that exist are checked against an unsharded DuckDB over the same rows."""

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from qserv.errors import QueryCancelledError, ResultTooLargeError, UserError
from qserv.merge.czar import Czar
from qserv.sql.dialects import MAX_DEPTH, MAX_NESTING

from .conftest import sky_objects

OBJECTS = 1000


def _objects():
    return sky_objects(OBJECTS, seed=5)


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def engine(request, open_sky):
    return open_sky(request.param, _objects())


@pytest.fixture(scope="module")
def reference():
    """An unsharded DuckDB holding the same rows as sky.Object."""
    connection = duckdb.connect()
    connection.execute("CREATE SCHEMA sky")
    objects = _objects()  # noqa: F841 - read by DuckDB's replacement scan
    connection.execute('CREATE TABLE sky."Object" AS SELECT * FROM objects')
    yield connection
    connection.close()


def _nested(kind, levels):
    cone = "objectId = 7"
    return {
        "parentheses": f"SELECT objectId FROM sky.Object WHERE {'(' * levels}{cone}{')' * levels}",
        "not": f"SELECT objectId FROM sky.Object WHERE {'NOT ' * levels}{cone}",
        "case": f"SELECT objectId, {'CASE WHEN objectId = 7 THEN ' * levels}1{' END' * levels} AS c FROM sky.Object "
                "WHERE objectId < 9",
        "subqueries": "SELECT objectId FROM sky.Object WHERE objectId IN "
                      + "(SELECT objectId FROM sky.Object WHERE objectId IN " * (levels - 1) + "(7)"
                      + ")" * (levels - 1),
    }[kind]


DEEP = ["parentheses", "not", "case", "subqueries"]


def _expect_user_error(engine, query, *words):
    with pytest.raises(UserError) as caught:
        engine.query(query)
    for word in words:
        assert word in str(caught.value), str(caught.value)
    return caught.value


@pytest.mark.parametrize("kind", DEEP)
def test_nesting_at_the_limit_is_answered(engine, reference, kind):
    query = _nested(kind, MAX_NESTING)
    got = sorted(zip(*engine.query(query).to_pydict().values()))
    want = sorted(reference.sql(engine.reference_sql(query)).fetchall())
    assert got == want and got


@pytest.mark.parametrize("kind", DEEP)
@pytest.mark.parametrize("levels", [MAX_NESTING + 1, 50, 150])
def test_deeper_nesting_is_a_user_error_naming_the_limit(engine, client, kind, levels):
    query = _nested(kind, levels)
    _expect_user_error(engine, query, "nested too deeply", str(MAX_NESTING))
    response = client.get("/tap/sync", query_string={"LANG": "ADQL", "QUERY": query})
    assert response.status_code == 400 and b"nested too deeply" in response.data


def test_long_chains(engine, reference, client):
    ands = "SELECT objectId FROM sky.Object WHERE " + " AND ".join(f"objectId <> {i}" for i in range(0, 6000, 2))
    ors = "SELECT objectId FROM sky.Object WHERE " + " OR ".join(f"objectId = {i}" for i in range(0, 3000, 7))
    for query in (ands, ors):
        want = sorted(row[0] for row in reference.sql(engine.reference_sql(query)).fetchall())
        assert sorted(engine.query(query).column(0).to_pylist()) == want and want
    unions = " UNION ".join(f"SELECT objectId FROM sky.Object WHERE objectId = {i}" for i in range(400))
    _expect_user_error(engine, unions, "nested too deeply", str(MAX_DEPTH))
    assert client.get("/tap/sync", query_string={"LANG": "ADQL", "QUERY": unions}).status_code == 400


@pytest.mark.parametrize("query, words", [
    ("SELECT TOP 1.5 objectId FROM sky.Object", ["TOP/LIMIT", "1.5"]),
    ("SELECT objectId FROM sky.Object LIMIT 1.5", ["TOP/LIMIT", "1.5"]),
    ("SELECT TOP 1e-400 objectId FROM sky.Object", ["TOP/LIMIT", "1e-400"]),
    ("SELECT objectId FROM sky.Object LIMIT -1", ["TOP/LIMIT", "-1"]),
    ("SELECT objectId FROM sky.Object LIMIT 99999999999999999999", ["TOP/LIMIT"]),
    ("SELECT objectId FROM sky.Object ORDER BY objectId LIMIT 2 OFFSET 0.5", ["OFFSET", "0.5"]),
    ("SELECT objectId FROM sky..Object", ["sky..Object", "DATABASE.TABLE"]),
    ("SELECT objectId FROM cat.sky.Object", ["cat.sky.Object", "DATABASE.TABLE"]),
    ("SELECT o.' o.ra, '.decl FROM sky.Object AS o", ["is not a column name"]),  # found by the fuzz test
    ("SELECT CAST(name AS INTEGER) AS n FROM sky.Object", ["cannot be evaluated", "n"]),
    ("SELECT objectId FROM sky.Object WHERE CAST(name AS INTEGER) > 3", ["cannot be evaluated"]),
])
def test_bad_values_are_user_errors(engine, client, query, words):
    _expect_user_error(engine, query, *words)
    response = client.get("/tap/sync", query_string={"LANG": "ADQL", "QUERY": query})
    assert response.status_code == 400, response.data
    assert b"Traceback" not in response.data and b"internal error" not in response.data


def test_top_zero_has_the_columns_and_no_rows(engine, client):
    table = engine.query("SELECT TOP 0 objectId, name FROM sky.Object")
    assert table.num_rows == 0 and table.column_names == ["objectId", "name"]
    response = client.get("/tap/sync", query_string={"LANG": "ADQL", "FORMAT": "csv",
                                                     "QUERY": "SELECT TOP 0 objectId FROM sky.Object"})
    assert response.status_code == 200 and response.data.decode().split() == ['"objectId"']


@pytest.mark.parametrize("condition", [
    "objectId = 99999999999999999999999",
    "objectId IN (3, 99999999999999999999999, -99999999999999999999999)",
    "objectId = -9223372036854775809 OR objectId = 4",
])
def test_director_ids_beyond_int64(engine, reference, condition):
    query = f"SELECT objectId FROM sky.Object WHERE {condition}"
    want = sorted(row[0] for row in reference.sql(engine.reference_sql(query)).fetchall())
    assert sorted(engine.query(query).column(0).to_pylist()) == want


def test_conversion_error_at_the_czar_is_a_user_error(engine):
    uploads = {"t": pa.table({"s": ["1", "x"]})}
    with pytest.raises(UserError, match="cannot be evaluated"):
        engine.query("SELECT CAST(s AS INTEGER) AS n FROM TAP_UPLOAD.t", uploads=uploads)


# -- queries evaluated at the czar obey the time limit (item 4) -------------------------------
RECURSIVE = ("WITH RECURSIVE c AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM c WHERE n < 150000000) "
             "SELECT COUNT(*) AS k FROM c")
PRODUCT = ("SELECT COUNT(*) AS k FROM TAP_UPLOAD.a AS a, TAP_UPLOAD.b AS b "
           "WHERE a.x + b.x > -1 AND a.x * b.x >= 0")


def _uploads():
    numbers = pa.table({"x": np.arange(60_000, dtype=np.int64)})
    return {"a": numbers, "b": numbers}


@pytest.mark.parametrize("query, uploads", [(RECURSIVE, None), (PRODUCT, _uploads())], ids=["cte", "product"])
def test_czar_queries_are_cancelled_at_the_time_limit(engine, query, uploads):
    with pytest.raises(QueryCancelledError, match="time limit of 2 s"):
        engine.query(query, timeout_s=2, uploads=uploads)
    assert engine.recent_queries(limit=1)[0].status == "cancelled"


def test_czar_query_past_the_sync_limit_over_http(engine, client):
    engine.settings["tap_sync_timeout_s"], before = 2, engine.settings["tap_sync_timeout_s"]
    try:
        response = client.get("/tap/sync", query_string={"LANG": "ADQL", "QUERY": RECURSIVE})
    finally:
        engine.settings["tap_sync_timeout_s"] = before
    assert response.status_code in (400, 408) and b"time limit" in response.data


def test_czar_memory_limit():
    czar = Czar(memory_mb=64)
    try:
        with pytest.raises(ResultTooLargeError, match="64 MiB .*czar_memory_mb"):
            czar.run("SELECT list(range) AS l FROM range(50000000)", {})
    finally:
        czar.close()
