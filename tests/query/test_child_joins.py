"""Director-key joins of children placed by or near their director (``qserv.query.joins``): which
alias reads the overlap, with what radius, and the refusals naming tables, distance and overlap."""

import dataclasses

import pytest

from qserv.errors import UnsupportedQueryError
from qserv.query.joins import join_shape
from qserv.query.placement_joins import RADIUS_MARGIN_DEG
from qserv.query.tables import Partitioning, TableInfo
from qserv.schema.columns import Column
from qserv.sql.dialects import parse, resolve_identifiers

GRID = Partitioning(4, 7, 300.0)


def _info(name, kind, *columns, **options):
    return TableInfo("sky", name, kind, tuple(Column(c, "double") for c in columns), GRID, **options)


OBJECT = _info("Object", "director", "objectId", "ra", "decl", id_column="objectId", ra_column="ra", dec_column="decl")
SOURCE = _info("Source", "child", "sourceId", "objectId", director="sky.Object", director_key="objectId")
DIA = _info("DiaSource", "child", "diaSourceId", "objectId", "ra", "decl", director="sky.Object",
            director_key="objectId", ra_column="ra", dec_column="decl", director_distance_arcsec=2.5)
POS = _info("PosSource", "child", "posSourceId", "objectId", "raObject", "declObject", director="sky.Object",
            director_key="objectId", ra_column="raObject", dec_column="declObject", director_position=True)


def shape(text, *changed):
    tables = {info.key: info for info in (OBJECT, SOURCE, DIA, POS)}
    tables.update({info.key: info for info in changed})
    tree = resolve_identifiers(parse(text, "adql"), {k: i.column_names for k, i in tables.items()},
                               default_database="sky")
    return join_shape(tree, tables)


@pytest.mark.parametrize("text", [
    "SELECT d.diaSourceId FROM DiaSource d JOIN Object o ON d.objectId = o.objectId",
    "SELECT d.diaSourceId FROM Object o, DiaSource d WHERE o.objectId = d.objectId AND d.ra < 2",
    "SELECT d.diaSourceId FROM DiaSource d JOIN Object o USING (objectId)",
])
def test_a_child_near_its_director_joins_with_the_director_reading_overlap(text):
    found = shape(text)
    assert (found.overlap_alias, found.near_alias) == ("o", "d")
    assert found.radius_deg == pytest.approx(2.5 / 3600.0 + RADIUS_MARGIN_DEG)


@pytest.mark.parametrize("distance, expected", [
    (None, "is not known"), (301.0, "is 301 arcsec, not within the overlap (300 arcsec)")])
def test_an_unknown_or_too_large_distance_is_refused(distance, expected):
    loose = dataclasses.replace(DIA, director_distance_arcsec=distance)
    with pytest.raises(UnsupportedQueryError, match="sky.DiaSource and its director sky.Object") as error:
        shape("SELECT d.diaSourceId FROM DiaSource d JOIN Object o ON d.objectId = o.objectId", loose)
    assert expected in str(error.value)


def test_a_left_join_or_a_director_with_other_children_is_refused():
    with pytest.raises(UnsupportedQueryError, match="LEFT JOIN of sky.DiaSource"):
        shape("SELECT d.diaSourceId FROM DiaSource d LEFT JOIN Object o ON d.objectId = o.objectId")
    with pytest.raises(UnsupportedQueryError, match="join"):
        shape("SELECT d.diaSourceId FROM Object o JOIN Source s ON s.objectId = o.objectId "
              "JOIN DiaSource d ON d.objectId = o.objectId")


def test_a_child_at_its_directors_position_joins_in_the_family():
    found = shape("SELECT p.posSourceId FROM Object o JOIN PosSource p ON p.objectId = o.objectId "
                  "JOIN Source s ON s.objectId = p.objectId")
    assert found.overlap_alias is None and found.primary == ["o", "p", "s"]
    assert shape("SELECT p.posSourceId FROM Object o LEFT JOIN PosSource p USING (objectId)").overlap_alias is None
    # its rows without a director are not in a director's chunk: no placement key (no index lookups)
    assert POS.placement_key is None and POS.family is None


REF = _info("RefObject", "director", "refId", "ra", "decl", id_column="refId", ra_column="ra", dec_column="decl")
MATCH = TableInfo("sky", "RefMatch", "match", tuple(Column(c, "long") for c in ("refId", "objectId")), GRID,
                  director="sky.RefObject", director_key="refId", director2="sky.Object", director2_key="objectId",
                  director_distance_arcsec=4.0)


def test_match_tables_join_their_directors():
    three = shape("SELECT m.refId FROM RefObject r JOIN RefMatch m ON m.refId = r.refId "
                  "JOIN Object o ON o.objectId = m.objectId", REF, MATCH)
    assert (three.overlap_alias, three.near_alias) == ("o", "r") and three.primary == ["r", "m"]
    assert three.radius_deg == pytest.approx(4.0 / 3600.0 + RADIUS_MARGIN_DEG)
    second = shape("SELECT m.refId FROM RefMatch m JOIN Object o ON m.objectId = o.objectId "
                   "JOIN Source s ON s.objectId = o.objectId", REF, MATCH)
    assert (second.overlap_alias, second.near_alias, second.radius_deg) == ("m", "o", None)
    first = shape("SELECT m.refId FROM RefObject r JOIN RefMatch m ON m.refId = r.refId", REF, MATCH)
    assert first.overlap_alias is None and first.primary == ["r", "m"]
    loose = dataclasses.replace(MATCH, director_distance_arcsec=None)
    with pytest.raises(UnsupportedQueryError, match="through the match table sky.RefMatch .* is not known"):
        shape("SELECT m.refId FROM RefObject r JOIN RefMatch m ON m.refId = r.refId "
              "JOIN Object o ON o.objectId = m.objectId", REF, loose)
    with pytest.raises(UnsupportedQueryError, match="LEFT JOIN of the match table"):
        shape("SELECT m.refId FROM RefMatch m LEFT JOIN Object o ON m.objectId = o.objectId", REF, MATCH)


def test_placement_joins_beside_a_left_join_elsewhere_or_with_more_tables():
    filters = _info("Filter", "replicated", "filterId", "name")
    found = shape("SELECT d.diaSourceId FROM DiaSource d JOIN Object o ON d.objectId = o.objectId "
                  "LEFT JOIN Filter f ON f.filterId = d.ra", filters)
    assert (found.overlap_alias, found.near_alias) == ("o", "d")
    with pytest.raises(UnsupportedQueryError, match="LEFT JOIN of the match table"):
        shape("SELECT m.refId FROM RefMatch m JOIN Object o ON m.objectId = o.objectId "
              "LEFT JOIN RefObject r ON r.refId = m.refId", REF, MATCH)
    with pytest.raises(UnsupportedQueryError, match="through the match table sky.RefMatch cannot run chunk by chunk "
                                                    "here: sky.Object reads its overlap rows"):
        shape("SELECT m.refId FROM RefObject r JOIN RefMatch m ON m.refId = r.refId JOIN Object o "
              "ON o.objectId = m.objectId JOIN Source s ON s.objectId = o.objectId", REF, MATCH)
