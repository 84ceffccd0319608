"""qserv.merge.fast_path.fast_merge of the MergeSpec split_aggregates and the engine's planner
produce against the czar's DuckDB merge (``Czar().run``) of the merge statement next to it, over
worker partials computed per chunk: same column names, types, values and (where the query fixes
it) row order."""

import math
from decimal import Decimal

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from qserv.merge import fast_path
from qserv.merge.czar import Czar, conform
from qserv.merge.fast_path import fast_merge
from qserv.query.aggregates import PARTIALS, split_aggregates
from qserv.sql.dialects import parse, to_sql
from tests.merge.conftest import sky_objects

CHUNKS = 6
ROWS = 2000


def _whole(rows=ROWS, seed=11):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 10, rows).round(3)
    x[rng.random(rows) < 0.03] = np.nan
    x[rng.random(rows) < 0.03] = -0.0
    start = np.datetime64("2025-01-01T00:00:00", "us")
    return pa.table({
        "id": np.arange(rows, dtype=np.int64),
        "a": pa.array(rng.integers(-50, 500, rows).astype(np.int32), mask=rng.random(rows) < 0.1),
        "x": pa.array(x, mask=rng.random(rows) < 0.15),
        "f": pa.array(rng.normal(size=rows).astype(np.float32), mask=rng.random(rows) < 0.05),
        "g": pa.array(rng.choice(["alpha", "beta", "gamma", "delta", "Zeta", "é"], rows),
                      mask=rng.random(rows) < 0.1),
        "k": rng.integers(0, 8, rows).astype(np.int32),
        "flag": pa.array(rng.random(rows) < 0.5, mask=rng.random(rows) < 0.1),
        "ts": pa.array(start + rng.integers(0, 10**10, rows).astype("timedelta64[us]"),
                       mask=rng.random(rows) < 0.05),
    })


@pytest.fixture(scope="module")
def db():
    connection = duckdb.connect()
    whole = _whole()
    # uneven chunks, the last one empty
    chunk = np.minimum(np.arange(ROWS) * np.arange(ROWS) % 97 % (CHUNKS - 1), CHUNKS - 2)
    connection.register("whole", whole)
    for c in range(CHUNKS):
        connection.register(f"chunk{c}", whole.filter(pa.array(chunk == c)))
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def czar():
    opened = Czar()
    yield opened
    opened.close()


def _partials(db, query, lang="adql"):
    """(split, concatenated worker partials) of ``query`` over the chunks of ``t``."""
    split = split_aggregates(parse(query, lang))
    worker = to_sql(split.worker, "duckdb")
    parts = []
    for c in range(CHUNKS):
        db.execute(f"CREATE OR REPLACE TEMP VIEW t AS SELECT * FROM chunk{c}")
        parts.append(db.sql(worker).to_arrow_table())
    return split, pa.concat_tables(parts, promote_options="permissive")


def _same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9)
    return a == b and type(a) is type(b)


def _assert_same_rows(ours, theirs, sort_columns=None):
    assert ours.column_names == theirs.column_names
    assert ours.schema == theirs.schema
    left, right = ours.to_pylist(), theirs.to_pylist()
    if sort_columns is not None:  # no ORDER BY: any order is right
        def key(row):
            return [repr(row[name]) for name in sort_columns]
        left, right = sorted(left, key=key), sorted(right, key=key)
    assert len(left) == len(right)
    for mine, expected in zip(left, right):
        assert all(_same(mine[name], expected[name]) for name in mine), (mine, expected)


def _check(db, czar, query, lang="adql", sort_columns=None, compare=None):
    split, partials = _partials(db, query, lang)
    ours = fast_merge(split.spec, partials, decide=False)
    assert ours is not None, to_sql(split.merge, "duckdb")
    theirs = czar.run(to_sql(split.merge, "duckdb"), {PARTIALS: partials})
    if compare is not None:  # ties in the ORDER BY: only these columns are determined
        assert ours.schema == theirs.schema
        ours, theirs = ours.select(compare), theirs.select(compare)
    _assert_same_rows(ours, theirs, sort_columns)
    return ours


ROW_QUERIES = [
    ("SELECT TOP 10 id, x FROM t ORDER BY x DESC, id", "adql"),
    ("SELECT TOP 10 id, x FROM t ORDER BY x, id", "adql"),
    ("SELECT id AS i, a, g FROM t ORDER BY a DESC, g, id LIMIT 25 OFFSET 7", "adql"),
    ("SELECT * FROM t ORDER BY k, x DESC, id LIMIT 40", "adql"),
    ("SELECT id FROM t ORDER BY x, id LIMIT 5000", "adql"),  # k beyond the rows
    ("SELECT id, f FROM t ORDER BY f DESC, id LIMIT 15 OFFSET 3000", "adql"),  # offset beyond the rows
    ("SELECT id, ts FROM t ORDER BY ts DESC, id LIMIT 12", "adql"),
    ("SELECT id, g FROM t ORDER BY g DESC, id LIMIT 30", "adql"),
    ("SELECT id, flag FROM t ORDER BY flag, id DESC LIMIT 9", "adql"),
    ("SELECT id, x AS xx FROM t ORDER BY x DESC NULLS FIRST, id LIMIT 20", "qserv"),
    ("SELECT id, x FROM t ORDER BY x ASC NULLS LAST, id DESC LIMIT 20", "qserv"),
    ("SELECT id FROM t ORDER BY x + 1, id LIMIT 8", "adql"),  # hidden ORDER BY column
    ("SELECT TOP 0 id FROM t ORDER BY id", "adql"),
]


@pytest.mark.parametrize("query,lang", ROW_QUERIES)
def test_top_k_merges_like_duckdb(db, czar, query, lang):
    _check(db, czar, query, lang)


@pytest.mark.parametrize("query", [
    "SELECT id, x AS xx, g, ts FROM t",
    "SELECT * FROM t",
])
def test_a_projection_is_the_partials_renamed(db, czar, query):
    _check(db, czar, query, sort_columns=["id"])


def test_a_limit_without_order_keeps_that_many_partial_rows(db):
    split, partials = _partials(db, "SELECT id FROM t LIMIT 7 OFFSET 3", "adql")
    ours = fast_merge(split.spec, partials, decide=False)
    assert ours.column("id").to_pylist() == partials.column(0).to_pylist()[3:10]


def test_top_k_with_ties_keeps_the_tied_keys(db, czar):
    ours = _check(db, czar, "SELECT k, id FROM t ORDER BY k DESC LIMIT 300", compare=["k"])
    assert ours.num_rows == 300


GROUP_QUERIES = [
    "SELECT g, COUNT(*), SUM(x), MIN(x), MAX(x), AVG(x), SUM(a), AVG(a), MIN(a), MAX(g), MIN(f), MAX(ts), "
    "MIN(flag) FROM t GROUP BY g ORDER BY g",
    "SELECT k, g, COUNT(x) AS n, SUM(a) AS s FROM t GROUP BY k, g ORDER BY n DESC, k, g LIMIT 7 OFFSET 2",
    "SELECT COUNT(*), SUM(x), AVG(a), MIN(g), MAX(x), SUM(f) FROM t",
    "SELECT k FROM t GROUP BY k ORDER BY k DESC",
    "SELECT flag, COUNT(*) AS n FROM t GROUP BY flag ORDER BY flag",
    "SELECT a, COUNT(*) FROM t GROUP BY a ORDER BY a DESC LIMIT 10",
    "SELECT x, COUNT(*) AS n FROM t GROUP BY x ORDER BY x LIMIT 30",  # NaN and -0.0/0.0 groups
    "SELECT COUNT(*), SUM(x) FROM t WHERE id < 0",  # nothing: one row of 0 and NULL
    "SELECT g, COUNT(*) FROM t WHERE id < 0 GROUP BY g ORDER BY g",
    "SELECT g, AVG(x) AS m FROM t GROUP BY g ORDER BY m DESC, g",
    "SELECT k, SUM(a) / COUNT(*) AS q FROM t GROUP BY k ORDER BY q, k",
    "SELECT k, MAX(g) AS top, COUNT(*) FROM t GROUP BY k ORDER BY 2, 1",
    "SELECT g, COALESCE(SUM(x), 0) AS s, COALESCE(SUM(a), 0), SUM(a) / NULLIF(COUNT(x), 0) FROM t "
    "WHERE k > 5 OR x > 0 GROUP BY g ORDER BY s DESC, g",
]


@pytest.mark.parametrize("query", GROUP_QUERIES)
def test_group_combine_merges_like_duckdb(db, czar, query):
    _check(db, czar, query)


@pytest.mark.parametrize("query,keys", [
    ("SELECT k, g, SUM(x), MAX(a), COUNT(*) FROM t GROUP BY k, g", ["k", "g"]),
    ("SELECT ts, COUNT(*) FROM t GROUP BY ts", ["ts"]),
    ("SELECT g FROM t GROUP BY g", ["g"]),
])
def test_group_combine_without_order_has_the_same_groups(db, czar, query, keys):
    _check(db, czar, query, sort_columns=keys)


@pytest.mark.parametrize("query,lang", [
    ("SELECT DISTINCT g FROM t ORDER BY g LIMIT 5", "adql"),
    ("SELECT id FROM t ORDER BY id", "adql"),  # no LIMIT: workers did not sort
    ("SELECT g, COUNT(*) FROM t GROUP BY g HAVING COUNT(*) > 3", "adql"),
    ("SELECT g, COUNT(DISTINCT k) FROM t GROUP BY g", "adql"),
    ("SELECT g, COUNT(*) * 2 FROM t GROUP BY g", "adql"),
    ("SELECT g, SUM(x) + 1 FROM t GROUP BY g", "adql"),
    ("SELECT g, MIN(x), SUM(a) FROM t GROUP BY g ORDER BY MIN(x) + 1", "adql"),
])
def test_other_shapes_are_left_to_duckdb(db, query, lang):
    split, partials = _partials(db, query, lang)
    assert fast_merge(split.spec, partials, decide=False) is None


def test_an_integer_sum_beyond_int64_is_left_to_duckdb(czar):
    split = split_aggregates(parse("SELECT k, SUM(a) AS s FROM t GROUP BY k", "adql"))
    partials = pa.table({"_qserv_g0": [1, 1, 2], "_qserv_a0": pa.array([2**62, 2**62, 5], pa.int64())})
    assert fast_merge(split.spec, partials, decide=False) is None
    small = partials.set_column(1, "_qserv_a0", pa.array([2**61, 2**61, 5], pa.int64()))
    _assert_same_rows(fast_merge(split.spec, small, decide=False),
                      czar.run(to_sql(split.merge, "duckdb"), {PARTIALS: small}), ["s"])


def test_decimal_partials_from_workers(czar):
    """DuckDB workers return HUGEINT sums as decimal128(38, 0); the merge sums them again."""
    split = split_aggregates(parse("SELECT k, SUM(a) AS s, AVG(a) AS m FROM t GROUP BY k ORDER BY k", "adql"))
    partials = pa.table({"_qserv_g0": pa.array([2, 1, 2, None], pa.int32()),
                         "_qserv_a0": pa.array([Decimal(5), None, Decimal(-7), Decimal(1)], pa.decimal128(38, 0)),
                         "_qserv_a1": pa.array([2, 0, 3, 1], pa.int64())})
    _assert_same_rows(fast_merge(split.spec, partials, decide=False),
                      czar.run(to_sql(split.merge, "duckdb"), {PARTIALS: partials}))


def test_duckdb_type_map_is_what_duckdb_gives_back(czar):
    types = [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32(), pa.uint64(),
             pa.float32(), pa.float64(), pa.bool_(), pa.string(), pa.large_string(), pa.binary(),
             pa.large_binary(), pa.date32(), pa.timestamp("s"), pa.timestamp("ms"), pa.timestamp("us"),
             pa.timestamp("ns"), pa.time64("us"), pa.decimal128(10, 2), pa.decimal128(38, 0),
             pa.dictionary(pa.int32(), pa.string())]
    for data_type in types:
        table = pa.table({"c": pa.array([None], data_type)})
        got = czar.run(f'SELECT c FROM "{PARTIALS}"', {PARTIALS: table}).schema.field("c").type
        assert fast_path.duckdb_type(data_type) == got, data_type


def test_the_decision_rule_leaves_large_inputs_to_duckdb(db):
    spec = split_aggregates(parse("SELECT TOP 10 id, g FROM t ORDER BY g, id", "adql")).spec
    rows = fast_path.STRING_MAX_ROWS + 1
    partials = pa.table({"_qserv_c0": np.arange(rows), "_qserv_c1": pa.array(["s"] * rows)})
    assert fast_merge(spec, partials) is None
    assert fast_merge(spec, partials.slice(0, 100)) is not None
    rows = fast_path.TOPK_MAX_ROWS + 1
    partials = pa.table({"_qserv_c0": np.zeros(rows, np.int64), "_qserv_c1": np.zeros(rows)})
    spec = split_aggregates(parse("SELECT TOP 10 id, x FROM t ORDER BY x", "adql")).spec
    assert fast_merge(spec, partials) is None
    assert fast_merge(spec, partials.slice(0, 1000)) is not None
    large = f"SELECT TOP {fast_path.TOPK_LARGE_K} id, x FROM t ORDER BY x"
    assert fast_merge(split_aggregates(parse(large, "adql")).spec, partials) is not None


# -- merge statements of the engine's planner ---------------------------------------------------

OBJECTS = sky_objects(3000, seed=4)


@pytest.fixture(scope="module")
def engine(sky_engine):
    return sky_engine("duckdb", OBJECTS)


@pytest.mark.parametrize("query", [
    "SELECT TOP 12 objectId, mag FROM sky.Object ORDER BY mag DESC, objectId",
    "SELECT TOP 20 objectId AS id, band, ra FROM sky.Object WHERE decl > 0 ORDER BY band, ra DESC",
    "SELECT band, COUNT(*) AS n, AVG(mag), MIN(mag), MAX(mag), SUM(mag) FROM sky.Object GROUP BY band ORDER BY band",
    "SELECT COUNT(*), MAX(objectId), MIN(mag) FROM sky.Object WHERE ra < 90",
])
def test_planner_merge_statements(engine, czar, query):
    """The engine's plan (plan.merge_spec, plan.merge) over partials from its worker statement run
    per slice of the table, and the merged answer conformed to the result schema equals
    Engine.query."""
    _, _, plan, schema = engine._prepare(query, "adql", None)
    objects = OBJECTS
    worker = to_sql(plan.worker, "duckdb")
    connection = duckdb.connect()
    connection.execute("CREATE SCHEMA sky")
    parts = []
    for part in range(5):
        connection.register("slice", objects.filter(pa.array(np.arange(objects.num_rows) % 5 == part)))
        connection.execute('CREATE OR REPLACE TABLE sky."Object" AS SELECT * FROM slice')
        parts.append(connection.sql(worker).to_arrow_table())
    connection.close()
    partials = pa.concat_tables(parts, promote_options="permissive")
    ours = fast_merge(plan.merge_spec, partials)
    assert ours is not None
    _assert_same_rows(ours, czar.run(to_sql(plan.merge, "duckdb"), {PARTIALS: partials}))
    _assert_same_rows(conform(ours, schema), engine.query(query))
