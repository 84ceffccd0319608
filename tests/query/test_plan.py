"""The planner driver: which plan a query gets, chunk-local join rules, areaspecs, pruning keys."""

from dataclasses import replace

from astropy.coordinates import SkyCoord
import duckdb
import numpy as np
import pyarrow as pa
import pytest

from qserv.errors import UnsupportedQueryError
from qserv.query import merge_spec as ms
from qserv.query.areaspec import rewrite_areaspecs
from qserv.query.plan import ChunkPlan, CzarPlan, ReplicatedPlan, plan_query
from qserv.query.render import worker_sql
from qserv.sql.worker_functions import function_sql
from qserv.query.tables import Partitioning, TableInfo
from qserv.schema.columns import Column
from qserv.sphere import Circle, chunk_and_subchunk_coverage
from qserv.sql.dialects import parse, resolve_identifiers

GRID = Partitioning(4, 7, 300.0)


def _columns(*names, datatype="double"):
    return tuple(Column(name, datatype) for name in names)


TABLES = {info.key: info for info in [
    TableInfo("sky", "Object", "director", _columns("objectId", "ra", "decl", "gMag"), GRID,
              id_column="objectId", ra_column="ra", dec_column="decl"),
    TableInfo("sky", "Source", "child", _columns("sourceId", "objectId", "flux"), GRID,
              director="sky.Object", director_key="objectId"),
    TableInfo("sky", "DiaSource", "child", _columns("diaSourceId", "objectId", "ra", "decl"), GRID,
              ra_column="ra", dec_column="decl", director="sky.Object", director_key="objectId"),
    TableInfo("sky", "Filter", "replicated", _columns("filterId", "name"), GRID),
    TableInfo("sky", "Visit", "time", _columns("visitId", "mjd"), GRID, partition_column="mjd", bucket_days=1.0),
    TableInfo("sky", "Event", "hash", (Column("eventKey", "string"), Column("value", "double")), GRID,
              partition_column="eventKey", bucket_count=8),
    TableInfo("other", "Star", "director", _columns("id", "ra", "decl"), GRID,
              id_column="id", ra_column="ra", dec_column="decl"),
]}


def plan(text, lang="adql"):
    columns = {key: info.column_names for key, info in TABLES.items()}
    tree = resolve_identifiers(parse(text, lang), columns, default_database="sky")
    return plan_query(rewrite_areaspecs(tree, TABLES), TABLES)


def test_kinds_of_plans():
    assert isinstance(plan("SELECT 1 + 1"), CzarPlan)
    assert isinstance(plan("SELECT name FROM Filter WHERE filterId IN (SELECT MIN(filterId) FROM Filter)"),
                      ReplicatedPlan)
    assert isinstance(plan("SELECT ra FROM Object"), ChunkPlan)
    union = plan("SELECT objectId FROM Object UNION SELECT objectId FROM Source")
    assert isinstance(union, CzarPlan) and sorted(union.inputs) == ["_qserv_m0", "_qserv_m1"]
    assert all(isinstance(p, ChunkPlan) for p in union.inputs.values())
    cte = plan("WITH b AS (SELECT objectId FROM Object WHERE gMag < 20) SELECT COUNT(*) FROM b")
    assert isinstance(cte, CzarPlan) and len(cte.inputs) == 1


def test_count_star_is_answered_from_counters_only_when_bare():
    assert plan("SELECT COUNT(*) FROM Object").count_table.key == "sky.Object"
    assert plan("SELECT COUNT(*) AS n FROM sky.Source").count_table.key == "sky.Source"
    assert plan("SELECT COUNT(*) FROM Object WHERE gMag > 1").count_table is None
    assert plan("SELECT COUNT(gMag) FROM Object").count_table is None


def test_cone_prunes_to_its_coverage():
    found = plan("SELECT objectId FROM Object WHERE CONTAINS(POINT(ra, decl), CIRCLE(10, 20, 1)) = 1")
    expected, _ = chunk_and_subchunk_coverage(Circle(10, 20, 1), 4, 7)
    assert np.array_equal(found.spatial_chunks, expected)
    assert 0 < len(found.spatial_chunks) < 10


def test_areaspec_becomes_a_predicate_on_the_director():
    found = plan("SELECT s.sourceId FROM Source s JOIN Object o ON s.objectId = o.objectId "
                 "WHERE qserv_areaspec_circle(10, 20, 0.5)", lang="qserv")
    assert found.restrictors and found.restrictors[0].table == "o"
    sql = worker_sql(found, [1], "duckdb", set())
    assert 'scisql_s2ptincircle("o"."ra", "o"."decl", 10, 20, 0.5) = 1' in sql.lower()


@pytest.mark.parametrize("text, message", [
    ("SELECT objectId FROM Object WHERE gMag > 1 OR qserv_areaspec_box(1, 2, 3, 4)", "top-level"),
    ("SELECT filterId FROM Filter WHERE qserv_areaspec_box(1, 2, 3, 4)", "director"),
])
def test_misplaced_areaspecs_are_refused(text, message):
    with pytest.raises(UnsupportedQueryError, match=message):
        plan(text, lang="qserv")


def test_director_key_lookups_through_a_child():
    found = plan("SELECT s.flux FROM Source s WHERE s.objectId IN (5, 7)")
    ((director, values),) = found.key_lookups
    assert director.key == "sky.Object" and values == {5, 7}
    # a child placed by its own position is not found through its director key
    assert plan("SELECT ra FROM DiaSource WHERE objectId = 5").key_lookups == []


def test_time_and_hash_buckets():
    assert plan("SELECT visitId FROM Visit WHERE mjd BETWEEN 60000.5 AND 60002.2").bucket_range.select(
        np.arange(59990, 60010)).tolist() == [60000, 60001, 60002]
    assert plan("SELECT visitId FROM Visit WHERE mjd > 60000").bucket_range is None
    assert len(plan("SELECT value FROM Event WHERE eventKey IN ('a', 'b')").buckets) in (1, 2)
    assert plan("SELECT value FROM Event WHERE eventKey = 5").buckets is None  # wrong type: no pruning


def test_family_and_near_neighbour_joins():
    family = plan("SELECT o.objectId, s.flux FROM Object o JOIN Source s ON o.objectId = s.objectId")
    assert family.overlap_alias is None
    near = plan("SELECT a.objectId, b.objectId FROM Object a, Object b "
                "WHERE DISTANCE(POINT(a.ra, a.decl), POINT(b.ra, b.decl)) < 0.01")
    assert (near.near_alias, near.overlap_alias) == ("a", "b")
    sql = worker_sql(near, [3], "duckdb", set())
    assert sql.count("NOT \"_qserv_overlap\"") == 1  # only the first side drops overlap rows
    assert '"a"."_qserv_chunk" = "b"."_qserv_chunk"' in sql
    assert '"a"."_qserv_zone" = "b"."_qserv_zone"' in sql and near.zone_height_deg == 0.01
    assert sql.count("CROSS JOIN (VALUES (-1), (0), (1))") == 1  # the partner offered in 3 zones


def test_the_zone_join_finds_each_close_pair_exactly_once():
    """Brute force over all pairs of points crowded around zone boundaries, on DuckDB."""
    near = plan("SELECT a.objectId AS x, b.objectId AS y FROM Object a, Object b "
                "WHERE DISTANCE(POINT(a.ra, a.decl), POINT(b.ra, b.decl)) < 0.01 AND a.objectId <> b.objectId")
    sql = worker_sql(near, [3], "duckdb", set())
    rng = np.random.default_rng(5)
    count = 400
    decl = np.round(rng.uniform(-0.03, 0.03, count) / 0.01) * 0.01 + rng.normal(0, 0.002, count)  # near boundaries
    ra = rng.uniform(10, 10.05, count)
    connection = duckdb.connect()
    for statement in function_sql("duckdb"):
        connection.execute(statement)
    rows = pa.table({"objectId": np.arange(count, dtype=np.int64), "ra": ra, "decl": decl,
                     "gMag": np.zeros(count), "_qserv_chunk": np.full(count, 3, np.int64),
                     "_qserv_overlap": np.zeros(count, bool), "_qserv_txn": np.zeros(count, np.int64)})
    connection.register("sky__Object", rows)
    found = sorted(map(tuple, connection.sql(sql).fetchall()))
    separation = SkyCoord(ra, decl, unit="deg")[:, None].separation(SkyCoord(ra, decl, unit="deg")[None, :]).deg
    expected = sorted((int(i), int(j)) for i, j in zip(*np.nonzero(separation < 0.01)) if i != j)
    assert len(expected) > 1000 and found == expected


@pytest.mark.parametrize("text, message", [
    ("SELECT a.objectId FROM Object a, Object b", "cannot run chunk by chunk"),
    ("SELECT o.objectId FROM Object o JOIN Source s ON o.gMag = s.flux", "director key"),
    ("SELECT a.objectId FROM Object a, Object b WHERE DISTANCE(POINT(a.ra, a.decl), POINT(b.ra, b.decl)) < 0.5",
     "overlap"),
    ("SELECT f.name FROM Filter f LEFT JOIN Source s ON s.sourceId = f.filterId", "LEFT JOIN"),
    ("SELECT o.objectId FROM Object o RIGHT JOIN Source s ON o.objectId = s.objectId", "RIGHT"),
    ("SELECT o.objectId FROM Object o JOIN other.Star s ON o.objectId = s.id", "different databases"),
    ("SELECT * FROM Object a, Object b WHERE DISTANCE(POINT(a.ra, a.decl), POINT(b.ra, b.decl)) < 0.01",
     "SELECT \\*"),
    ("SELECT objectId FROM Object o WHERE EXISTS (SELECT 1 FROM Source s WHERE s.objectId = o.objectId)",
     "correlated"),
    ("SELECT o.objectId FROM Object o JOIN (SELECT objectId FROM Source) s ON o.objectId = s.objectId",
     "derived table"),
])
def test_refusals_name_the_construct(text, message):
    with pytest.raises(UnsupportedQueryError, match=message):
        plan(text)


def test_uncorrelated_subqueries_are_answered_first():
    found = plan("SELECT objectId FROM Object WHERE objectId IN (SELECT objectId FROM Source WHERE flux > 1) "
                 "AND gMag > (SELECT AVG(gMag) FROM Object)")
    kinds = sorted(kind for kind, _ in found.subqueries.values())
    assert kinds == ["in", "scalar"] and all(isinstance(p, ChunkPlan) for _, p in found.subqueries.values())


def test_limit_without_order_stops_dispatch_early():
    assert plan("SELECT TOP 5 ra FROM Object").row_limit == 5
    assert plan("SELECT TOP 5 ra FROM Object ORDER BY ra").row_limit is None
    assert plan("SELECT TOP 5 COUNT(*) FROM Object GROUP BY gMag").row_limit is None


@pytest.mark.parametrize("text, kind", [
    ("SELECT * FROM Object WHERE gMag < 20", ms.CONCAT),
    ("SELECT ra AS r, decl FROM Object LIMIT 10", ms.PROJECTION),
    ("SELECT TOP 5 objectId, gMag FROM Object ORDER BY gMag DESC", ms.TOP_K),
    ("SELECT s.sourceId, o.gMag FROM Source s JOIN Object o ON s.objectId = o.objectId ORDER BY o.gMag LIMIT 3",
     ms.TOP_K),
    ("SELECT TOP 3 * FROM Object ORDER BY gmag", ms.TOP_K),
    ("SELECT COUNT(*), AVG(gMag) FROM Object WHERE ra < 10", ms.GROUP_COMBINE),
    ("SELECT FLOOR(gMag) AS b, COUNT(*) AS n, MIN(ra), MAX(decl), SUM(gMag) / COUNT(*) FROM Object "
     "GROUP BY b ORDER BY n DESC, 1 LIMIT 4", ms.GROUP_COMBINE),
    ("SELECT ra FROM Object ORDER BY ra", ms.GENERAL),  # a full sort
    ("SELECT DISTINCT gMag FROM Object", ms.GENERAL),
    ("SELECT gMag, COUNT(*) FROM Object GROUP BY gMag HAVING COUNT(*) > 1", ms.GENERAL),
    ("SELECT COUNT(DISTINCT gMag) FROM Object", ms.GENERAL),
    ("SELECT MAX(gMag) - MIN(gMag) FROM Object", ms.GENERAL),
    ("SELECT gMag, COUNT(*) AS n FROM Object GROUP BY gMag ORDER BY n * 2", ms.GENERAL),
    ("SELECT ra FROM Object ORDER BY ra OFFSET 2 ROWS FETCH FIRST 5 ROWS ONLY", ms.GENERAL),
])
def test_the_plan_says_what_its_merge_computes(text, kind):
    assert plan(text).merge_spec.kind == kind


def test_a_group_combine_spec_names_the_partial_columns():
    spec = plan("SELECT FLOOR(gMag) AS b, COUNT(*) AS n, AVG(ra) FROM Object GROUP BY b ORDER BY n DESC").merge_spec
    count = ms.Partial(ms.COUNT, "_qserv_a0")
    assert spec.keys == ("_qserv_g0",) and spec.order == ((count, True, False),)
    assert [value for _, value in spec.outputs] == [
        ms.Partial(ms.KEY, "_qserv_g0"), count,
        ms.Quotient(ms.Partial(ms.SUM, "_qserv_a1"), ms.Partial(ms.SUM, "_qserv_a2"))]
    top = plan("SELECT TOP 7 objectId AS id, gMag FROM Object ORDER BY gMag DESC, 1").merge_spec
    assert top.outputs == (("id", "_qserv_c0"), ("gMag", "_qserv_c1"))
    assert top.order == (("_qserv_c1", True, False), ("_qserv_c0", False, True)) and top.k == 7


def test_merge_specs_of_one_shape_differ_only_in_the_limit():
    """A plan shared by queries of one shape (other literals) takes another LIMIT by replace."""
    one = plan("SELECT TOP 5 objectId FROM Object WHERE gMag < 20 ORDER BY gMag").merge_spec
    other = plan("SELECT objectId FROM Object WHERE gMag < 21.5 ORDER BY gMag LIMIT 9 OFFSET 2", "qserv").merge_spec
    assert other.k == 11 and replace(other, limit=5, offset=0) == one
    grouped = [plan(f"SELECT FLOOR(gMag) AS b, SUM(ra) FROM Object WHERE decl > {d} GROUP BY b").merge_spec
               for d in (-10, 42.5)]
    assert grouped[0] == grouped[1] and hash(grouped[0]) == hash(grouped[1])


def test_worker_sql_hides_uncommitted_rows_and_other_chunks():
    found = plan("SELECT ra FROM Object")
    for backend in ("duckdb", "postgres"):
        sql = worker_sql(found, [4, 9], backend, {12, 3})
        assert '"_qserv_txn" NOT IN (3, 12)' in sql and '"_qserv_chunk" IN (4, 9)' in sql
    empty = worker_sql(found, [], "duckdb", set())
    assert '"_qserv_chunk" IN (NULL)' in empty
    assert duckdb.sql("SELECT count(*) FROM (SELECT 4 AS c) WHERE c IN (NULL)").fetchall() == [(0,)]  # no chunk, no row
