"""The merge kernels (cython_ext/merge.pyx via qserv.merge.kernels) against their numpy references
and against DuckDB, on random inputs with NULLs, NaN, -0.0, ties, mixed directions, empty runs
and k beyond the row count."""

import math
from decimal import Decimal

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qserv.merge import kernels

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SPECIAL_FLOATS = [0.0, -0.0, 1.5, -1.5, 2.0, math.inf, -math.inf, math.nan, 1e300, -1e-300]
INT_EXTREMES = [-2**63, 2**63 - 1, 0, -1, 1]


@pytest.fixture(scope="module")
def db():
    connection = duckdb.connect(config={"threads": 1})
    yield connection
    connection.close()


def _floats(draw, n, exact=False):
    """float64 values with specials; ``exact``: multiples of 1/4 (sums exact in any order)."""
    plain = st.integers(-4000, 4000).map(lambda v: v / 4) if exact else st.floats(allow_nan=True)
    elements = st.sampled_from(SPECIAL_FLOATS) | plain
    return np.array(draw(st.lists(elements, min_size=n, max_size=n)), dtype=np.float64)


def _ints(draw, n, small=False):
    elements = st.integers(-3, 3) if small else (st.integers(-3, 3) | st.sampled_from(INT_EXTREMES))
    return np.array(draw(st.lists(elements, min_size=n, max_size=n)), dtype=np.int64)


def _validity(draw, n):
    kind = draw(st.sampled_from(["none", "some", "some", "all"]))
    if kind == "none":
        return None
    if kind == "all":
        return np.zeros(n, dtype=np.uint8)
    return np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=np.uint8)


@st.composite
def sort_problems(draw):
    """(bounds, sort keys, k): runs of 0..12 rows, 1..3 keys of either type."""
    lengths = draw(st.lists(st.integers(0, 12), min_size=1, max_size=6))
    n = sum(lengths)
    keys = []
    for _ in range(draw(st.integers(1, 3))):
        values = _floats(draw, n) if draw(st.booleans()) else _ints(draw, n)
        keys.append((values, _validity(draw, n), draw(st.booleans()), draw(st.booleans())))
    bounds = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return bounds, keys, draw(st.integers(0, n + 5))


def _permuted(keys, order):
    return [(values[order].copy(), None if valid is None else valid[order].copy(), desc, first)
            for values, valid, desc, first in keys]


def _sorted_runs(bounds, keys):
    """The same rows with every run sorted by the keys (what workers send)."""
    order = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        run = _permuted(keys, np.arange(start, stop))
        order.extend((start + kernels.topk_reference([0, stop - start], run, stop - start)).tolist())
    return _permuted(keys, np.array(order, dtype=np.int64))


@SETTINGS
@given(sort_problems())
def test_topk_equals_the_reference_whatever_the_input_order(problem):
    bounds, keys, k = problem
    assert kernels.topk(bounds, keys, k).tolist() == kernels.topk_reference(bounds, keys, k).tolist()


@SETTINGS
@given(sort_problems())
def test_topk_merges_sorted_runs_with_ties_by_run_then_position(problem):
    bounds, keys, k = problem
    keys = _sorted_runs(bounds, keys)
    expected = kernels.topk_reference(bounds, keys, k).tolist()
    assert kernels.topk(bounds, keys, k, check=False).tolist() == expected
    assert kernels.topk(bounds, keys, k).tolist() == expected
    # the run check keeps every given boundary of a non-empty run and finds no descent inside
    runs = kernels._kernel().natural_runs(bounds, keys)
    nonempty = [int(b) for b, e in zip(bounds[:-1], bounds[1:]) if e > b]
    assert set(nonempty) <= set(runs.tolist()) and runs.tolist() == sorted(set(nonempty) | {int(bounds[-1])})


@SETTINGS
@given(sort_problems())
def test_topk_is_what_duckdb_order_by_limit_returns(db, problem):
    bounds, keys, k = problem
    n = int(bounds[-1])
    columns, order = {}, []
    for j, (values, valid, desc, nulls_first) in enumerate(keys):
        mask = None if valid is None else ~valid.astype(bool)
        columns[f"k{j}"] = pa.array(values, mask=mask)
        order.append(f"k{j} {'DESC' if desc else 'ASC'} NULLS {'FIRST' if nulls_first else 'LAST'}")
    table = pa.table(columns) if columns else pa.table({"k0": pa.array([], pa.int64())})
    cursor = db.cursor()
    cursor.register("t", table)
    expected = cursor.sql(f"SELECT * FROM t ORDER BY {', '.join(order)} LIMIT {k}").to_arrow_table()
    cursor.close()
    rows = kernels.topk(bounds, keys, k)
    assert len(rows) == min(k, n) == expected.num_rows

    def canonical(value):  # NaN equal to NaN; -0.0 == 0.0 already
        return "NaN" if isinstance(value, float) and math.isnan(value) else value

    ours = [tuple(canonical(v) for v in row.values()) for row in table.take(pa.array(rows)).to_pylist()]
    theirs = [tuple(canonical(v) for v in row.values()) for row in expected.to_pylist()]
    assert ours == theirs  # rows tied on every key are interchangeable


def test_topk_edge_cases():
    empty = (np.array([], dtype=np.int64), None, False, False)
    assert kernels.topk([0], [empty], 10).tolist() == []
    assert kernels.topk([0, 0, 0], [empty], 3).tolist() == []
    values = np.array([3, 1, 2], dtype=np.int64)
    assert kernels.topk([0, 3], [(values, None, False, False)], 0).tolist() == []
    assert kernels.topk([0, 3], [(values, None, False, False)], 99).tolist() == [1, 2, 0]
    assert kernels.topk([0, 1, 3], [(values, None, True, False)], 2, check=False).tolist() == [0, 1]
    with pytest.raises(ValueError, match="bounds"):
        kernels.topk([0, 2], [(values, None, False, False)], 1)
    with pytest.raises(ValueError, match="int64 or float64"):
        kernels.topk([0, 3], [(values.astype(np.int32), None, False, False)], 1)
    with pytest.raises(ValueError, match="k must be"):
        kernels.topk([0, 3], [(values, None, False, False)], -1)


def test_topk_sorts_many_runs_with_the_merge_sort_path():
    rng = np.random.default_rng(5)
    keys = [(rng.integers(0, 50, 5000), (rng.random(5000) < 0.9).astype(np.uint8), True, False),
            (rng.normal(size=5000), None, False, False)]
    for k in (10, 2000, 5000, 6000):  # heap for small k, merge sort of ~2500 runs for large k
        assert kernels.topk([0, 5000], keys, k).tolist() == kernels.topk_reference([0, 5000], keys, k).tolist()


# -- group combine ------------------------------------------------------------------------------

@st.composite
def combine_problems(draw, exact=False):
    """(group key columns as pyarrow arrays, partials): 0..2 keys (int64, string or float64, with
    NULLs), 0..5 partials (sum, count, min, max of int64 or float64)."""
    n = draw(st.integers(0, 60))
    key_columns = []
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(["int", "string", "float"]))
        valid = _validity(draw, n)
        mask = None if valid is None else ~valid.astype(bool)
        if kind == "int":
            column = pa.array(_ints(draw, n), mask=mask)
        elif kind == "float":
            column = pa.array(np.array(draw(st.lists(st.sampled_from(SPECIAL_FLOATS), min_size=n, max_size=n)),
                                       dtype=np.float64), mask=mask)
        else:
            words = draw(st.lists(st.sampled_from(["", "a", "b", "é", "ab"]), min_size=n, max_size=n))
            column = pa.array(words, pa.string(), mask=mask)
            if draw(st.booleans()):
                column = column.dictionary_encode()
        key_columns.append(column)
    partials = []
    for _ in range(draw(st.integers(0 if key_columns else 1, 5))):
        op = draw(st.sampled_from(kernels.OPS))
        if op == "count":
            values = np.array(draw(st.lists(st.integers(0, 9), min_size=n, max_size=n)), dtype=np.int64)
        elif draw(st.booleans()):
            values = _floats(draw, n, exact)
        else:
            values = _ints(draw, n, small=op == "sum")
        partials.append((values, _validity(draw, n), op))
    return key_columns, partials


def _assert_same_groups(ours, reference):
    first, results = ours
    expected_first, expected = reference
    assert first.tolist() == expected_first.tolist()
    for (values, valid), (want, want_valid) in zip(results, expected):
        assert valid.tolist() == want_valid.tolist()
        assert values.dtype == want.dtype
        assert np.array_equal(values[valid], want[want_valid], equal_nan=True)


@SETTINGS
@given(combine_problems())
def test_combine_equals_the_reference(problem):
    key_columns, partials = problem
    keys = [kernels.group_key(column) for column in key_columns]
    _assert_same_groups(kernels.combine(keys, partials), kernels.combine_reference(keys, partials))


def _canonical(value):
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else value + 0.0  # -0.0 -> 0.0
    if isinstance(value, Decimal):
        return int(value)
    return value


@SETTINGS
@given(combine_problems(exact=True))
def test_combine_is_what_duckdb_group_by_returns(db, problem):
    key_columns, partials = problem
    columns = {f"k{j}": column for j, column in enumerate(key_columns)}
    items = [f"k{j}" for j in range(len(key_columns))]
    for i, (values, valid, op) in enumerate(partials):
        columns[f"p{i}"] = pa.array(values, mask=None if valid is None else ~valid.astype(bool))
        items.append({"sum": f"SUM(p{i})", "count": f"COALESCE(SUM(p{i}), 0)",
                      "min": f"MIN(p{i})", "max": f"MAX(p{i})"}[op])
    table = pa.table(columns) if columns else pa.table({"p0": pa.array([], pa.int64())})
    group_by = f" GROUP BY {', '.join(f'k{j}' for j in range(len(key_columns)))}" if key_columns else ""
    cursor = db.cursor()
    cursor.register("t", table)
    expected = cursor.sql(f"SELECT {', '.join(items)} FROM t{group_by}").to_arrow_table().to_pylist()
    cursor.close()
    first, results = kernels.combine([kernels.group_key(c) for c in key_columns], partials)
    ours = []
    for g, row in enumerate(first.tolist()):
        key = tuple(_canonical(column[row].as_py()) for column in key_columns)
        aggregates = tuple(_canonical(values[g].item()) if valid[g] else None for values, valid in results)
        ours.append(key + aggregates)
    theirs = [tuple(_canonical(v) for v in row.values()) for row in expected]
    assert sorted(map(repr, ours)) == sorted(map(repr, theirs))


def test_combine_null_semantics_and_overflow():
    keys = [(np.array([1, 1, 2, 2, 3], dtype=np.int64), None)]
    values = np.array([5, 7, 0, 0, 4], dtype=np.int64)
    valid = np.array([1, 0, 0, 0, 1], dtype=np.uint8)
    first, [total, count, low, high] = kernels.combine(keys, [(values, valid, "sum"), (values, valid, "count"),
                                                              (values, valid, "min"), (values, valid, "max")])
    assert first.tolist() == [0, 2, 4]
    assert total[1].tolist() == [True, False, True] and total[0][[0, 2]].tolist() == [5, 4]
    assert count[1].all() and count[0].tolist() == [5, 0, 4]  # a count is never NULL
    assert low[1].tolist() == [True, False, True] and high[0][[0, 2]].tolist() == [5, 4]
    nan = np.array([1.0, math.nan, 2.0, -1.0], dtype=np.float64)
    _, [low, high] = kernels.combine([(np.zeros(4, np.int64), None)], [(nan, None, "min"), (nan, None, "max")])
    assert low[0].tolist() == [-1.0] and math.isnan(high[0][0])  # NaN is the greatest float
    big = np.array([2**62, 2**62], dtype=np.int64)
    with pytest.raises(OverflowError):
        kernels.combine([(np.zeros(2, np.int64), None)], [(big, None, "sum")])
    # no keys: one group even without rows (a global aggregate)
    first, [(sums, seen)] = kernels.combine([], [(np.array([], np.int64), None, "sum")])
    assert first.tolist() == [0] and seen.tolist() == [False]


def test_group_ids_finds_every_group_of_a_large_input():
    rng = np.random.default_rng(3)
    values = rng.integers(0, 200_000, 500_000)
    valid = (rng.random(500_000) < 0.95).astype(np.uint8)
    for keys in ([(values, None)], [(values, valid), (values % 7, None)]):
        group, first = kernels.groups_of(keys)
        assert group.tolist() == kernels._codes(keys, len(values)).tolist()
        assert first.tolist() == np.unique(group, return_index=True)[1].tolist()


def test_sort_and_group_keys_of_other_types_keep_duckdb_order_and_equality():
    unsigned = pa.array([0, 2**63, 2**64 - 1, 5, None], pa.uint64())
    values, valid = kernels.sort_key(unsigned)
    assert kernels.topk([0, 5], [(values, valid, False, False)], 5).tolist() == [0, 3, 1, 2, 4]
    words = pa.chunked_array([pa.array(["b", None, "é"]).dictionary_encode(),
                              pa.array(["Z", "", "b"]).dictionary_encode()])  # two dictionaries
    values, valid = kernels.sort_key(words)
    assert kernels.topk([0, 6], [(values, valid, True, True)], 6).tolist() == [1, 2, 0, 5, 3, 4]
    codes, valid = kernels.group_key(pa.array([0.0, -0.0, math.nan, -math.nan, None, 1.0]))
    group, first = kernels.groups_of([(codes, valid)])
    assert group.tolist() == [0, 0, 1, 1, 2, 3] and first.tolist() == [0, 2, 4, 5]
    with pytest.raises(kernels.UnsupportedColumn):
        kernels.sort_key(pa.array([1, 2], pa.duration("s")))
