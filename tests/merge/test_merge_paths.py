"""The two merge paths of the engine agree: random queries over random rows answered with the
merge kernels (``fast_merge`` of the plan's MergeSpec) and with the merge SELECT run by the czar's
DuckDB (the fast path switched off) give the same names, types, values and, where the query fixes
it, row order, on DuckDB and PostgreSQL workers."""

import math

import numpy as np
import pytest

import qserv.exec.executor as executor
from qserv.merge.fast_path import fast_merge
from qserv.query import merge_spec as ms
from tests.merge.conftest import sky_objects

ROWS = 2500
QUERIES = 30  # per kind and backend


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def engine(request, sky_engine):
    return sky_engine(request.param, sky_objects(ROWS, seed=5))


def _where(rng):
    return rng.choice(["", f" WHERE mag < {rng.uniform(17, 23):.2f}", f" WHERE nobs > {rng.integers(0, 4)}",
                       f" WHERE decl > {rng.uniform(-30, 30):.1f} AND band <> 'u'", " WHERE mag > 99"])


def _direction(rng):
    return rng.choice(["", " DESC", " ASC", " DESC NULLS FIRST", " NULLS LAST"])


def row_query(rng):
    """A row query: a projection, or a top-k ordered down to objectId (so LIMIT picks fixed rows)."""
    star = rng.random() < 0.2
    columns = ["objectId", "ra", "mag", "band", "nobs"]
    items = "*" if star else ", ".join(
        f"{c} AS c{i}" if rng.random() < 0.3 else c
        for i, c in enumerate(rng.choice(columns, rng.integers(1, 5), replace=False)))
    query = f"SELECT {items} FROM sky.Object{_where(rng)}"
    if rng.random() < 0.25:
        return query, False
    keys = list(rng.choice(["mag", "band", "nobs", "ra"], rng.integers(1, 3), replace=False))
    order = ", ".join(f"{k}{_direction(rng)}" for k in keys) + f", objectId{_direction(rng)}"
    offset = f" OFFSET {rng.integers(0, 30)}" if rng.random() < 0.4 else ""
    return f"{query} ORDER BY {order} LIMIT {rng.integers(0, 80)}{offset}", True


AGGREGATES = ["COUNT(*)", "COUNT(mag)", "SUM(nobs)", "SUM(mag)", "AVG(mag)", "AVG(nobs)", "MIN(mag)",
              "MAX(band)", "MIN(ra)", "MAX(nobs)", "SUM(mag) / COUNT(*)", "COALESCE(SUM(nobs), 0)"]
GROUP_KEYS = ["band", "nobs", "FLOOR(mag)"]


def group_query(rng):
    """An aggregate query: global, or grouped on 1-2 keys, ordered on an aggregate then the keys."""
    keys = list(rng.choice(GROUP_KEYS, rng.integers(0, 3), replace=False))
    values = [f"{a} AS v{i}" for i, a in enumerate(rng.choice(AGGREGATES, rng.integers(1, 5), replace=False))]
    items = [f"{k} AS k{i}" for i, k in enumerate(keys)] + values
    query = f"SELECT {', '.join(items)} FROM sky.Object{_where(rng)}"
    if keys:
        query += " GROUP BY " + ", ".join(f"k{i}" for i in range(len(keys)))
        if rng.random() < 0.7:
            first = [f"v{rng.integers(0, len(values))}{_direction(rng)}"] if rng.random() < 0.5 else []
            query += " ORDER BY " + ", ".join(first + [f"k{i}{_direction(rng)}" for i in range(len(keys))])
            if rng.random() < 0.5:
                query += f" LIMIT {rng.integers(1, 12)}" + (" OFFSET 2" if rng.random() < 0.3 else "")
            return query, True
    return query, not keys


def _same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-9)
    return a == b and type(a) is type(b)


def assert_same(ours, theirs, ordered):
    assert ours.schema == theirs.schema
    left, right = ours.to_pylist(), theirs.to_pylist()
    if not ordered:
        left, right = (sorted(rows, key=lambda row: [repr(v) for v in row.values()]) for rows in (left, right))
    assert len(left) == len(right)
    for mine, expected in zip(left, right):
        assert all(_same(mine[name], expected[name]) for name in mine), (mine, expected)


@pytest.mark.parametrize("make", [row_query, group_query])
def test_fast_and_general_merges_agree(engine, monkeypatch, make):
    rng = np.random.default_rng(17)
    answered = {}  # MergeSpec kind -> [fast path answers (not None)]

    def recording(spec, partials, decide=True):
        result = fast_merge(spec, partials, decide)
        answered.setdefault(spec.kind, []).append(result is not None)
        return result

    for _ in range(QUERIES):
        query, ordered = make(rng)
        monkeypatch.setattr(executor, "fast_merge", recording)
        fast = engine.query(query)
        monkeypatch.setattr(executor, "fast_merge", lambda spec, partials: None)
        general = engine.query(query)
        assert_same(fast, general, ordered)
    kinds = {ms.TOP_K, ms.PROJECTION, ms.CONCAT} if make is row_query else {ms.GROUP_COMBINE}
    assert kinds <= set(answered), answered
    assert all(all(answered[kind]) for kind in kinds), answered  # the kernels answered every one
