"""The plan cache (issue 15, item 2), differential: queries of many shapes with random numbers run
through the cache and through the full path (the cache turned off) on both backends give the same
table (names, types, field metadata, rows), and the rows of one unsharded DuckDB holding the same
data (``Engine.reference_sql``, as tests/slt). Hits are counted; a catalog change retires entries;
rows committed later are seen through a cached plan."""

import math
from pathlib import Path
import sys

import numpy as np
import pyarrow as pa
import pytest

import qserv
from qserv.errors import UserError
from qserv.meta.admin import TableSpec
from qserv.query.plan_cache import PlanCache
from qserv.query.shape import query_shape
from qserv.schema.columns import Column

sys.path.insert(0, str(Path(__file__).parents[1] / "slt"))  # the corpus dataset
from dataset import build_sharded, tables  # noqa: E402
from test_corpus import reference  # noqa: E402,F401  (the unsharded DuckDB of the corpus)

ROUNDS = 7  # literal sets per shape: seen, learnt, then hits
IDS = tables()["Object"]["objectId"].to_numpy()


def _cone(rng):
    return dict(ra=round(rng.uniform(0, 360), 4), dec=round(rng.uniform(0, 89), 4),
                r=round(rng.choice([rng.uniform(0.01, 0.2), rng.uniform(1, 12)]), 5))


def _id(rng):  # an id of the table, or one that is not
    return int(rng.choice(IDS)) if rng.uniform() < 0.8 else int(rng.integers(1, 999))


# (ADQL or Qserv SQL, template, literal generator, whether queries of the shape must hit the cache)
SHAPES = [
    ("adql", "SELECT objectId, ra, decl FROM sky.Object WHERE CONTAINS(POINT('ICRS', ra, decl), "
             "CIRCLE('ICRS', {ra}, {dec}, {r})) = 1", _cone, True),
    ("adql", "SELECT objectId, ra FROM sky.Object WHERE CONTAINS(POINT('ICRS', ra, decl), "
             "CIRCLE('ICRS', {ra}, -{dec}, {r})) = 1", _cone, True),
    ("adql", "SELECT objectId FROM sky.Object WHERE CONTAINS(POINT('ICRS', ra, decl), "
             "CIRCLE('ICRS', {ra}, {dec}, {r})) = 1 AND flags > {f}",  # integers only
     lambda rng: dict(ra=int(rng.integers(0, 360)), dec=int(rng.integers(0, 90)), r=int(rng.integers(1, 4)),
                      f=int(rng.integers(0, 40))), True),
    ("adql", "SELECT * FROM sky.Object WHERE objectId = {a}", lambda rng: dict(a=_id(rng)), True),
    ("adql", "SELECT objectId, gMag, name FROM sky.Object WHERE objectId IN ({a}, {b}, {c})",
     lambda rng: dict(a=_id(rng), b=_id(rng), c=_id(rng)), True),
    ("adql", "SELECT sourceId, psfFlux FROM sky.Source WHERE objectId = {a}", lambda rng: dict(a=_id(rng)), True),
    ("adql", "SELECT o.objectId, s.sourceId, s.psfFlux FROM sky.Object AS o JOIN sky.Source AS s "
             "ON s.objectId = o.objectId WHERE CONTAINS(POINT('ICRS', o.ra, o.decl), "
             "CIRCLE('ICRS', {ra}, {dec}, {r})) = 1 AND s.psfFlux > {f}",
     lambda rng: dict(_cone(rng), f=round(rng.uniform(50, 150), 2)), True),
    ("adql", "SELECT TOP 5 objectId, gMag FROM sky.Object WHERE gMag BETWEEN {lo} AND {hi} ORDER BY gMag, objectId",
     lambda rng: dict(lo=round(rng.uniform(14, 20), 3), hi=round(rng.uniform(20, 26), 3)), True),
    ("adql", "SELECT kind, COUNT(*) AS n, MAX(gMag) AS top FROM sky.Object WHERE decl > {d} AND flags < {f} "
             "GROUP BY kind", lambda rng: dict(d=round(rng.uniform(0, 60), 2), f=int(rng.integers(0, 64))), True),
    ("adql", "SELECT objectId FROM sky.Object WHERE DISTANCE(POINT('ICRS', ra, decl), POINT('ICRS', {ra}, {dec})) "
             "< {r}", _cone, True),
    # the worker SQL holds the box's corners, computed from the literals: not cached
    ("adql", "SELECT objectId FROM sky.Object WHERE CONTAINS(POINT('ICRS', ra, decl), "
             "BOX('ICRS', {ra}, {dec}, {w}, {h})) = 1",
     lambda rng: dict(ra=round(rng.uniform(0, 360), 3), dec=round(rng.uniform(0, 80), 3),
                      w=round(rng.uniform(0.1, 30), 3), h=round(rng.uniform(0.1, 20), 3)), False),
    ("qserv", "SELECT objectId, decl FROM sky.Object WHERE qserv_areaspec_circle({ra}, {dec}, {r})", _cone, True),
    # the literal decides whether there is a restrictor at all: hits fall back when it changes
    ("adql", "SELECT objectId FROM sky.Object WHERE CONTAINS(POINT('ICRS', ra, decl), "
             "CIRCLE('ICRS', {ra}, {dec}, {r})) = {b}", lambda rng: dict(_cone(rng), b=int(rng.integers(0, 2))), False),
    # time buckets from the literals: never cached, answered right
    ("adql", "SELECT visitId FROM sky.Visit WHERE mjd >= {lo} AND mjd < {hi}",
     lambda rng: dict(lo=round(rng.uniform(60000, 60010), 2), hi=round(rng.uniform(60010, 60030), 2)), False),
]


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def engine(request, tmp_path_factory, new_instance):
    home = tmp_path_factory.mktemp(f"plans-{request.param}")
    new_instance(home, request.param, 3)
    with qserv.open(home) as opened:
        build_sharded(opened)
        yield opened


def _uncached(engine, text, lang):
    plans, engine.plans = engine.plans, PlanCache(0)
    try:
        return engine.query(text, lang=lang)
    finally:
        engine.plans = plans


def _rows(table):
    rows = [tuple(round(v, 9) if isinstance(v, float) and math.isfinite(v) else v for v in row)
            for row in zip(*(c.to_pylist() for c in table.columns))]
    return sorted(rows, key=repr)


@pytest.mark.parametrize("index", range(len(SHAPES)))
def test_cached_and_full_path_agree(engine, reference, index):
    lang, template, literals, hits = SHAPES[index]
    rng = np.random.default_rng(100 + index)
    before = engine.plans.hits
    for _ in range(ROUNDS):
        text = template.format(**literals(rng))
        got = engine.query(text, lang=lang)
        full = _uncached(engine, text, lang)
        assert got.schema.equals(full.schema, check_metadata=True), text
        assert _rows(got) == _rows(full), text
        expected = reference.sql(engine.reference_sql(text, lang=lang)).to_arrow_table()
        assert _rows(got) == _rows(expected), text
    if hits:
        assert engine.plans.hits - before == ROUNDS - 2, template


def test_errors_of_a_cached_shape_are_the_planners(engine):
    text = "SELECT objectId FROM sky.Object WHERE CONTAINS(POINT('ICRS', ra, decl), CIRCLE('ICRS', 10, 20, {r})) = 1"
    for radius in (1, 2, 3):
        engine.query(text.format(r=radius))
    with pytest.raises(UserError, match="radius") as full:
        _uncached(engine, text.format(r=200), "adql")
    with pytest.raises(UserError) as cached:
        engine.query(text.format(r=200))
    assert str(cached.value) == str(full.value)


OBJECT = TableSpec("director", [Column("objectId", "long", False), Column("ra", "double", False),
                                Column("decl", "double", False), Column("mag", "double")],
                   id_column="objectId", ra_column="ra", dec_column="decl")


def _objects(first_id, count, seed):
    rng = np.random.default_rng(seed)
    return pa.table({"objectId": np.arange(first_id, first_id + count, dtype=np.int64),
                     "ra": rng.uniform(0, 360, count), "decl": rng.uniform(-60, 60, count),
                     "mag": rng.normal(20, 1, count)})


def test_catalog_changes_retire_entries_and_commits_are_seen(tmp_path, new_instance):
    new_instance(tmp_path, "duckdb", 2)
    with qserv.open(tmp_path) as engine:
        engine.create_database("cat", chunk_order=4, subchunk_order=7)
        engine.create_table("cat.Object", OBJECT)
        engine.ingest("cat.Object", [_objects(0, 500, 1)])
        lookup = "SELECT objectId, mag FROM cat.Object WHERE objectId = {}"

        def hits_of(object_id):
            before = engine.plans.hits
            found = engine.query(lookup.format(object_id)).column("objectId").to_pylist()
            return engine.plans.hits - before, found

        assert [hits_of(i)[0] for i in (1, 2, 3)] == [0, 0, 1]
        assert hits_of(10_007) == (1, [])  # not there yet
        engine.ingest("cat.Object", [_objects(10_000, 10, 2)])  # a commit: same catalog version
        assert hits_of(10_007) == (1, [10_007])
        engine.create_table("cat.Other", TableSpec("replicated", [Column("n", "long")]))  # a new version
        assert [hits_of(i)[0] for i in (4, 5, 6)] == [0, 0, 1]
        engine.publish("cat")
        assert hits_of(7)[0] == 0
        engine.add_worker("extra")
        assert hits_of(8)[0] == 0
        assert hits_of(9) == (0, [9])  # learnt again


def test_the_cache_is_bounded_and_can_be_turned_off():
    cache = PlanCache(3)
    for i in range(10):
        cache.lookup(("shape", i), ())
    assert len(cache._entries) == 3
    off = PlanCache(0)
    assert off.lookup("k", ()) == (None, False) and not off._entries


@pytest.mark.parametrize("text, pieces, literals", [
    ("SELECT a FROM t WHERE x = 12 AND y < -3.5e2", ("SELECT a FROM t WHERE x = ", " AND y < -", ""),
     ("12", "3.5e2")),
    ("SELECT flux_0, \"b 1\" FROM t WHERE s = 'it''s 42' AND z > .5", ("SELECT flux_0, \"b 1\" FROM t WHERE "
                                                                     "s = 'it''s 42' AND z > ", ""), (".5",)),
    ("SELECT  a\nFROM t", ("SELECT  a\nFROM t",), ()),
])
def test_shapes(text, pieces, literals):
    shape = query_shape(text)
    assert (shape.pieces, shape.literals) == (pieces, literals)
    assert shape.text(shape.literals) == text


@pytest.mark.parametrize("text", ["SELECT 1 -- note", "SELECT /* x */ 1", "SELECT 1abc FROM t", "SELECT 'open"])
def test_texts_without_a_shape(text):
    assert query_shape(text) is None
