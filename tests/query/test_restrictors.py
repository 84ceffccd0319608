"""Spatial restrictors: what is extracted from a parsed query, what is not, and that the chunks
they select hold every position satisfying all of them."""

import healpy
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qserv.errors import InvalidRegionError, UserError
from qserv.query.restrictors import chunks_for, spatial_restrictors
from qserv.sphere import Box, Circle, Ellipse
from qserv.sql.dialects import parse

POSITIONS = {"o": ("ra", "decl"), "s": ("ra", "decl"), "Object": ("ra", "decl")}
CHUNK_ORDER, SUBCHUNK_ORDER = 3, 5


def found(query, lang="qserv", positions=POSITIONS):
    """(region type name, table, parameters) of each restrictor of ``query``."""
    return [(type(r.region).__name__, r.table, describe(r.region))
            for r in spatial_restrictors(parse(query, lang), positions)]


def describe(region):
    if isinstance(region, Circle):
        return (region.ra_deg, region.dec_deg, region.radius_deg)
    if isinstance(region, Box):
        return (region.ra_min_deg, region.dec_min_deg, region.ra_max_deg, region.dec_max_deg)
    if isinstance(region, Ellipse):
        return (region.ra_deg, region.dec_deg, region.semi_major_arcsec,
                region.semi_minor_arcsec, region.position_angle_deg)
    return (tuple(region.ra_deg.tolist()), tuple(region.dec_deg.tolist()))


EXTRACTED = [
    ("SELECT * FROM Object o WHERE CONTAINS(POINT(o.ra, o.decl), CIRCLE(10, -2 * 3, 1 / 4)) = 1",
     "adql", [("Circle", "o", (10.0, -6.0, 0.25))]),
    ("SELECT * FROM Object o WHERE o.x > 2 AND 1 = CONTAINS(POINT('ICRS', ra, decl), "
     "BOX('ICRS', 0, 0, 20, (5 + 5)))",
     "adql", [("Box", "o", (350.0, -5.0, 10.0, 5.0))]),
    ("SELECT * FROM Object WHERE CONTAINS(POINT(ra, decl), POLYGON(1, 2, 3, 2, 2, 4))",
     "adql", [("Polygon", "Object", ((1.0, 3.0, 2.0), (2.0, 2.0, 4.0)))]),
    ("SELECT * FROM Object o WHERE INTERSECTS(CIRCLE(1, 2, 3), POINT(o.ra, o.decl)) = 1",
     "adql", [("Circle", "o", (1.0, 2.0, 3.0))]),
    ("SELECT * FROM Object WHERE DISTANCE(POINT(ra, decl), POINT(1, -2)) <= 0.5",
     "adql", [("Circle", "Object", (1.0, -2.0, 0.5))]),
    ("SELECT * FROM Object WHERE 0.5 > DISTANCE(POINT(1, 2), POINT(ra, decl))",
     "adql", [("Circle", "Object", (1.0, 2.0, 0.5))]),
    ("SELECT * FROM Object WHERE DISTANCE(ra, decl, 1, 2) < 200",
     "adql", [("Circle", "Object", (1.0, 2.0, 180.0))]),
    ("SELECT * FROM Object o WHERE scisql_angSep(1, 2, o.ra, o.decl) < 0.1",
     "qserv", [("Circle", "o", (1.0, 2.0, 0.1))]),
    ("SELECT * FROM Object WHERE qserv_areaspec_box(350, -1, 10, 1)",
     "qserv", [("Box", None, (350.0, -1.0, 10.0, 1.0))]),
    ("SELECT * FROM Object WHERE qserv_areaspec_circle(1, 2, 0.5)",
     "qserv", [("Circle", None, (1.0, 2.0, 0.5))]),
    ("SELECT * FROM Object WHERE qserv_areaspec_ellipse(1, 2, 30, 20, 45)",
     "qserv", [("Ellipse", None, (1.0, 2.0, 30.0, 20.0, 45.0))]),
    ("SELECT * FROM Object WHERE qserv_areaspec_poly(1, 2, 3, 2, 2, 4)",
     "qserv", [("Polygon", None, ((1.0, 3.0, 2.0), (2.0, 2.0, 4.0)))]),
    ("SELECT * FROM Object o WHERE scisql_s2PtInCircle(o.ra, o.decl, 1, 2, 3) = 1",
     "qserv", [("Circle", "o", (1.0, 2.0, 3.0))]),
    ("SELECT * FROM Object o WHERE 1 = scisql_s2PtInBox(ra, decl, 1, 2, 3, 4)",
     "qserv", [("Box", "o", (1.0, 2.0, 3.0, 4.0))]),
    ("SELECT * FROM Object o WHERE scisql_s2PtInEllipse(ra, decl, 1, 2, 30, 20, 45) = 1",
     "qserv", [("Ellipse", "o", (1.0, 2.0, 30.0, 20.0, 45.0))]),
    ("SELECT * FROM Object o WHERE scisql_s2PtInCPoly(ra, decl, 1, 2, 3, 2, 2, 4) = 1",
     "qserv", [("Polygon", "o", ((1.0, 3.0, 2.0), (2.0, 2.0, 4.0)))]),
    ("SELECT * FROM Object o WHERE o.ra BETWEEN 10 AND 20 AND (o.decl >= -5 AND o.decl < 5)",
     "qserv", [("Box", "o", (10.0, -5.0, 20.0, 5.0))]),
    ("SELECT * FROM Object o WHERE ra > 12 AND 10 <= ra AND decl BETWEEN -95 AND 5 "
     "AND 20 > ra AND ra <= 30",
     "qserv", [("Box", "o", (12.0, -90.0, 20.0, 5.0))]),
    ("SELECT * FROM Object o JOIN Source s ON o.id = s.id WHERE qserv_areaspec_circle(1, 2, 3) "
     "AND scisql_s2PtInCircle(s.ra, s.decl, 1, 2, 0.5) = 1",
     "qserv", [("Circle", None, (1.0, 2.0, 3.0)), ("Circle", "s", (1.0, 2.0, 0.5))]),
]


@pytest.mark.parametrize(("query", "lang", "expected"), EXTRACTED)
def test_extracted(query, lang, expected):
    assert found(query, lang) == expected


NOT_EXTRACTED = [
    # under OR / NOT, or not a restriction at all
    "SELECT * FROM Object WHERE scisql_s2PtInCircle(ra, decl, 1, 2, 3) = 1 OR x = 1",
    "SELECT * FROM Object WHERE NOT scisql_s2PtInCircle(ra, decl, 1, 2, 3) = 1",
    "SELECT * FROM Object WHERE scisql_s2PtInCircle(ra, decl, 1, 2, 3) = 0",
    "SELECT * FROM Object WHERE scisql_angSep(ra, decl, 1, 2) > 0.5",
    "SELECT * FROM Object WHERE x = 1 AND (qserv_areaspec_box(1, 2, 3, 4) OR x = 2)",
    "SELECT * FROM Object WHERE NOT (ra BETWEEN 1 AND 2) AND decl BETWEEN 1 AND 2",
    # subqueries, set operations, WITH, join conditions
    "SELECT * FROM Object WHERE id IN (SELECT id FROM Object WHERE qserv_areaspec_box(1, 2, 3, 4))",
    "SELECT * FROM (SELECT * FROM Object WHERE qserv_areaspec_box(1, 2, 3, 4)) AS o",
    "SELECT * FROM (SELECT ra + 180 AS ra, decl FROM Object) AS o "
    "WHERE scisql_s2PtInCircle(o.ra, o.decl, 1, 2, 3) = 1",
    "SELECT * FROM Object WHERE qserv_areaspec_box(1, 2, 3, 4) UNION SELECT * FROM Object",
    "WITH o AS (SELECT * FROM Object) SELECT * FROM o WHERE qserv_areaspec_box(1, 2, 3, 4)",
    "SELECT * FROM Object o JOIN Source s ON scisql_s2PtInCircle(s.ra, s.decl, 1, 2, 3) = 1",
    # non-constant or non-position arguments
    "SELECT * FROM Object WHERE scisql_s2PtInCircle(ra, decl, 1, 2, x) = 1",
    "SELECT * FROM Object WHERE scisql_s2PtInCircle(ra, decl, 1, 2, 3 / 0) = 1",
    "SELECT * FROM Object WHERE scisql_s2PtInCircle(ra, decl, 1, 2, '3') = 1",
    "SELECT * FROM Object WHERE scisql_s2PtInCircle(decl, ra, 1, 2, 3) = 1",
    "SELECT * FROM Object WHERE scisql_s2PtInCircle(ra, x, 1, 2, 3) = 1",
    "SELECT * FROM Object WHERE scisql_s2PtInCircle(ra, ra, 1, 2, 3) = 1",
    "SELECT * FROM Object WHERE qserv_areaspec_circle(1, 2, x)",
    "SELECT * FROM Object o, Source s WHERE scisql_s2PtInCircle(o.ra, s.decl, 1, 2, 3) = 1",
    "SELECT * FROM Object o, Source s WHERE scisql_s2PtInCircle(ra, decl, 1, 2, 3) = 1",
    "SELECT * FROM Object o, Source s WHERE scisql_angSep(o.ra, o.decl, s.ra, s.decl) < 0.1",
    "SELECT * FROM Other t WHERE scisql_s2PtInCircle(t.ra, t.decl, 1, 2, 3) = 1",
    # incomplete or unusable bounds
    "SELECT * FROM Object WHERE ra BETWEEN 1 AND 2 AND decl > 5",
    "SELECT * FROM Object WHERE ra BETWEEN 1 AND 2",
    "SELECT * FROM Object WHERE ra BETWEEN -10 AND 2 AND decl BETWEEN 1 AND 2",
    "SELECT * FROM Object WHERE ra BETWEEN 20 AND 10 AND decl BETWEEN 1 AND 2",
    "SELECT * FROM Object WHERE ra BETWEEN 1 AND 2 AND decl BETWEEN 91 AND 92",
    "SELECT * FROM Object WHERE ra BETWEEN 1 AND x AND decl BETWEEN 1 AND 2",
    "SELECT * FROM Object o, Source s WHERE o.ra BETWEEN 1 AND 2 AND s.decl BETWEEN 1 AND 2",
]


@pytest.mark.parametrize("query", NOT_EXTRACTED)
def test_not_extracted(query):
    assert found(query) == []


def test_adql_restrictions_not_extracted():
    for query in [
        "SELECT * FROM Object WHERE CONTAINS(POINT(ra, decl), CIRCLE(1, 2, 3)) = 1 OR x = 1",
        "SELECT * FROM Object WHERE CONTAINS(POINT(ra, decl), CIRCLE(ra, 2, 3)) = 1",
        "SELECT * FROM Object WHERE CONTAINS(POINT(1, 2), CIRCLE(ra, decl, 3)) = 1",
        "SELECT * FROM Object WHERE DISTANCE(POINT(ra, decl), POINT(1, 2)) > 0.5",
        "SELECT * FROM Object WHERE DISTANCE(POINT(ra, decl), POINT(1, 2)) < x",
        "SELECT * FROM Object WHERE 0.5 < DISTANCE(POINT(ra, decl), POINT(1, 2))",
    ]:
        assert found(query, "adql") == [], query


@pytest.mark.parametrize(("query", "lang"), [
    ("SELECT * FROM Object WHERE CONTAINS(POINT(ra, decl), CIRCLE(1, 2, 0 - 1)) = 1", "adql"),
    ("SELECT * FROM Object WHERE DISTANCE(POINT(ra, decl), POINT(1, 2)) < -1", "adql"),
    ("SELECT * FROM Object WHERE CONTAINS(POINT(ra, decl), POLYGON(1, 2, 1, 2, 3, 4)) = 1", "adql"),
    ("SELECT * FROM Object WHERE qserv_areaspec_box(1, 5, 3, 4)", "qserv"),
    ("SELECT * FROM Object WHERE qserv_areaspec_circle(1, 2)", "qserv"),
    ("SELECT * FROM Object WHERE qserv_areaspec_poly(1, 2, 3, 4, 5, 6, 7)", "qserv"),
    ("SELECT * FROM Object WHERE qserv_areaspec_ellipse(1, 2, 10, 20, 0)", "qserv"),
    ("SELECT * FROM Object WHERE scisql_s2PtInBox(ra, decl, 1, 2, 3) = 1", "qserv"),
])
def test_invalid_constant_region_raises(query, lang):
    with pytest.raises(InvalidRegionError) as error:
        spatial_restrictors(parse(query, lang), POSITIONS)
    assert isinstance(error.value, UserError)


def test_no_restrictor_means_all_chunks():
    assert chunks_for([], CHUNK_ORDER, SUBCHUNK_ORDER) is None
    tree = parse("SELECT * FROM Object WHERE x > 1", "qserv")
    assert chunks_for(spatial_restrictors(tree, POSITIONS), CHUNK_ORDER, SUBCHUNK_ORDER) is None


def test_chunks_are_the_intersection_of_the_coverages():
    tree = parse("SELECT * FROM Object o WHERE qserv_areaspec_box(0, 0, 20, 20) AND "
                 "scisql_s2PtInCircle(ra, decl, 20, 20, 5) = 1", "qserv")
    box, circle = spatial_restrictors(tree, POSITIONS)
    box_chunks = chunks_for([box], CHUNK_ORDER, SUBCHUNK_ORDER)
    circle_chunks = chunks_for([circle], CHUNK_ORDER, SUBCHUNK_ORDER)
    both = chunks_for([box, circle], CHUNK_ORDER, SUBCHUNK_ORDER)
    assert 0 < len(both) < min(len(box_chunks), len(circle_chunks))
    assert both.tolist() == np.intersect1d(box_chunks, circle_chunks).tolist()
    far = spatial_restrictors(parse("SELECT * FROM Object WHERE qserv_areaspec_circle(200, -40, 1)",
                                    "qserv"), POSITIONS)
    assert len(chunks_for([box, *far], CHUNK_ORDER, SUBCHUNK_ORDER)) == 0


def offset(ra, dec, distance, bearing):
    """Positions ``distance`` degrees from (ra, dec) towards ``bearing`` (degrees east of north)."""
    ra, dec, distance, bearing = (np.radians(v) for v in (ra, dec, distance, bearing))
    sin_dec = np.sin(dec) * np.cos(distance) + np.cos(dec) * np.sin(distance) * np.cos(bearing)
    new_dec = np.arcsin(np.clip(sin_dec, -1.0, 1.0))
    new_ra = ra + np.arctan2(np.sin(bearing) * np.sin(distance) * np.cos(dec),
                             np.cos(distance) - np.sin(dec) * sin_dec)
    return np.degrees(new_ra) % 360.0, np.clip(np.degrees(new_dec), -90.0, 90.0)


def conjunct(kind, ra, dec, size, rng):
    """A restriction text of ``kind`` (ADQL) around (ra, dec), about ``size`` degrees across."""
    if kind == "cone":
        return f"CONTAINS(POINT(o.ra, o.decl), CIRCLE({ra!r}, {dec!r}, {size!r})) = 1"
    if kind == "distance":
        return f"{size!r} > DISTANCE(POINT({ra!r}, {dec!r}), POINT(o.ra, o.decl))"
    if kind == "box":
        return f"1 = CONTAINS(POINT(o.ra, o.decl), BOX({ra!r}, {dec!r}, {2 * size!r}, {size!r}))"
    if kind == "areaspec_box":
        low, high = (ra - size) % 360.0, (ra + size) % 360.0
        dec_min, dec_max = max(dec - size, -90.0), min(dec + size, 90.0)
        return f"qserv_areaspec_box({low!r}, {dec_min!r}, {high!r}, {dec_max!r})"
    if kind == "between":
        low, high = max(ra - size, 0.0), min(ra + size, 360.0)
        return (f"o.ra BETWEEN {low!r} AND {high!r} "
                f"AND o.decl >= {dec - size!r} AND o.decl <= {dec + size!r}")
    if kind == "ellipse":
        axes = f"{size * 2000!r}, {size * 1000!r}"  # semi-axes in arcsec, at most 10 degrees
        return f"scisql_s2PtInEllipse(o.ra, o.decl, {ra!r}, {dec!r}, {axes}, 30) = 1"
    count = rng.integers(3, 8)  # one vertex per sector: a simple polygon around the centre
    bearings = (np.arange(count) + rng.uniform(0.0, 1.0, count)) * 360.0 / count
    vertex_ra, vertex_dec = offset(ra, dec, rng.uniform(0.2, 1.0, len(bearings)) * size, bearings)
    numbers = ", ".join(f"{a!r}, {d!r}" for a, d in zip(vertex_ra.tolist(), vertex_dec.tolist()))
    if kind == "polygon":
        return f"CONTAINS(POINT(o.ra, o.decl), POLYGON({numbers})) = 1"
    return f"qserv_areaspec_poly({numbers})"


KINDS = ["cone", "distance", "box", "areaspec_box", "between", "ellipse", "polygon",
         "areaspec_poly"]


def check_chunks_hold_matching_points(conjuncts, ra, dec, reach, rng):
    """The chunks of the query's restrictors hold every random point satisfying all of them;
    returns how many points did."""
    tree = parse(f"SELECT * FROM Object o WHERE {' AND '.join(conjuncts)}", "adql")
    restrictors = spatial_restrictors(tree, POSITIONS)
    assert len(restrictors) == len(conjuncts)
    chunks = chunks_for(restrictors, CHUNK_ORDER, SUBCHUNK_ORDER)
    distance = np.degrees(np.arccos(rng.uniform(np.cos(np.radians(reach)), 1.0, 20000)))
    points_ra, points_dec = offset(ra, dec, distance, rng.uniform(0.0, 360.0, distance.size))
    inside = np.ones(distance.size, dtype=bool)
    for restrictor in restrictors:
        inside &= restrictor.region.contains_reference(points_ra, points_dec)
    pixels = healpy.ang2pix(1 << CHUNK_ORDER, points_ra[inside], points_dec[inside], nest=True,
                            lonlat=True)
    assert np.isin(pixels, chunks).all()
    return int(inside.sum())


@settings(max_examples=150, deadline=None)
@given(kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=2, unique=True),
       ra=st.one_of(st.floats(0.0, 360.0), st.sampled_from([0.0, 0.5, 359.5, 360.0])),
       dec=st.floats(-89.0, 89.0), size=st.floats(0.05, 15.0), seed=st.integers(0, 2**32 - 1))
def test_chunks_hold_every_point_satisfying_all_restrictors(kinds, ra, dec, size, seed):
    rng = np.random.default_rng(seed)
    conjuncts = [conjunct(kind, ra, dec, size, rng) for kind in kinds]
    check_chunks_hold_matching_points(conjuncts, ra, dec, 2.5 * size, rng)


@pytest.mark.parametrize("conjuncts", [
    ["qserv_areaspec_box(355, -3, 5, 3)"],
    ["1 = CONTAINS(POINT(o.ra, o.decl), BOX(0, 0, 10, 6))",
     "CONTAINS(POINT(o.ra, o.decl), CIRCLE(359, 1, 3)) = 1"],
    ["qserv_areaspec_box(350, -5, 10, 5)", "o.ra BETWEEN 0 AND 4 AND o.decl BETWEEN -9 AND 2"],
])
def test_chunks_of_boxes_across_ra_zero(conjuncts):
    rng = np.random.default_rng(7)
    assert check_chunks_hold_matching_points(conjuncts, 0.0, 0.0, 12.0, rng) > 1000
    tree = parse(f"SELECT * FROM Object o WHERE {' AND '.join(conjuncts)}", "adql")
    chunks = chunks_for(spatial_restrictors(tree, POSITIONS), CHUNK_ORDER, SUBCHUNK_ORDER)
    assert 0 < len(chunks) < 20  # pruned, yet on both sides of RA 0
