"""The worker SQL functions on DuckDB and PostgreSQL against the regions of ``qserv.sphere``.

Random points go into a table on a real worker of each backend; every predicate must agree with
the region's ``contains_reference`` except for points within EPS_DEG of the region's boundary.
PostgreSQL at 127.0.0.1:5432 is required (the tests fail, never skip, without it).
"""

import uuid

import numpy as np
import psycopg2
import pytest

from qserv.errors import UserError
from qserv.exec.postgres_worker import READER_ROLE
from qserv.exec.backends import open_worker
from qserv.sphere import Box, Circle, Ellipse, Polygon, angular_separation_deg
from qserv.sphere.angles import unit_vectors
from qserv.sql.worker_functions import FUNCTION_NAMES, function_sql, install, polygon_condition_sql

EPS_DEG = 1e-9


@pytest.fixture(scope="module")
def worker(sql_worker):
    install(sql_worker)
    install(sql_worker)  # idempotent
    return sql_worker


def _value(number):
    return "NULL" if np.isnan(number) else f"{number:.17e}"


def evaluate(worker, columns, expressions):
    """Each SQL expression over a table holding ``columns`` (name -> float array; NaN is NULL),
    as a list per expression, in row order (None for NULL)."""
    table = f"fn_points_{uuid.uuid4().hex[:12]}"
    names = list(columns)
    worker.execute(f"CREATE TABLE {table} (i BIGINT, {', '.join(f'{n} FLOAT8' for n in names)})")
    if worker.backend == "postgres":  # queries run as READER_ROLE, which needs a grant on this table
        worker.execute(f"GRANT SELECT ON {table} TO {READER_ROLE}")
    try:
        count = len(columns[names[0]])
        for start in range(0, count, 2000):
            rows = ", ".join(
                f"({i}, {', '.join(_value(columns[n][i]) for n in names)})"
                for i in range(start, min(start + 2000, count))
            )
            worker.execute(f"INSERT INTO {table} VALUES {rows}")
        selected = ", ".join(f"{expression} AS r{k}" for k, expression in enumerate(expressions))
        result = worker.query(f"SELECT {selected} FROM {table} ORDER BY i")
    finally:
        worker.execute(f"DROP TABLE {table}")
    return [result.column(f"r{k}").to_pylist() for k in range(len(expressions))]


def as_bool(values):
    assert None not in values
    return np.array(values) == 1


def uniform_sphere(rng, count):
    return rng.uniform(0.0, 360.0, count), np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, count)))


def near(rng, ra_deg, dec_deg, half_width_deg, count):
    """Points in an RA/Dec box around a position (Dec clipped, so some land on the poles)."""
    ra_scale = 1.0 / np.maximum(np.cos(np.radians(dec_deg)), 0.01)
    ra = (ra_deg + rng.uniform(-1.0, 1.0, count) * half_width_deg * ra_scale) % 360.0
    dec = np.clip(dec_deg + rng.uniform(-1.0, 1.0, count) * half_width_deg, -90.0, 90.0)
    return ra, dec


def antipodes(ra, dec):
    return (ra + 180.0) % 360.0, -dec


def test_unknown_backend_and_names():
    with pytest.raises(UserError, match="sqlite"):
        function_sql("sqlite")
    with pytest.raises(TypeError):
        polygon_condition_sql("ra", "dec", Circle(0, 0, 1), "duckdb")
    for backend in ("duckdb", "postgres"):
        statements = function_sql(backend)
        assert len(statements) == len(FUNCTION_NAMES)
        for name, statement in zip(FUNCTION_NAMES, statements):
            assert f" {name.lower()}(" in statement


def test_mixed_case_calls(worker):
    row = worker.query(
        "SELECT scisql_angSep(0, 0, 0, 1) AS a, SCISQL_ANGSEP(0, 0, 0, 1) AS b, "
        "scisql_angsep(0.0, 0.0, 0.0, 1.0) AS c, Scisql_S2PtInCircle(0, 0, 0, 0.5, 1) AS d, "
        "qserv_distance_deg(10, 0, 20, 0) AS e"
    ).to_pylist()[0]
    assert row == pytest.approx({"a": 1.0, "b": 1.0, "c": 1.0, "d": 1, "e": 10.0}, abs=1e-12)


def test_ang_sep(worker):
    rng = np.random.default_rng(1)
    ra1, dec1 = uniform_sphere(rng, 3000)
    ra2, dec2 = uniform_sphere(rng, 3000)
    # Tiny separations, from 1 mas to 3.6 arcsec, in random directions.
    base_ra, base_dec = rng.uniform(0.0, 360.0, 2000), rng.uniform(-80.0, 80.0, 2000)
    size, direction = 10 ** rng.uniform(np.log10(2.5e-7), -3.0, 2000), rng.uniform(0, 2 * np.pi, 2000)
    tiny_ra = (base_ra + size * np.sin(direction) / np.cos(np.radians(base_dec))) % 360.0
    tiny_dec = base_dec + size * np.cos(direction)
    # Antipodes, exact and a little off.
    anti_ra, anti_dec = antipodes(base_ra, base_dec)
    off_ra, off_dec = (anti_ra + rng.uniform(-1e-4, 1e-4, 2000)) % 360.0, anti_dec + 1e-5
    columns = {
        "ra1": np.concatenate([ra1, base_ra, base_ra, base_ra]),
        "dec1": np.concatenate([dec1, base_dec, base_dec, base_dec]),
        "ra2": np.concatenate([ra2, tiny_ra, anti_ra, off_ra]),
        "dec2": np.concatenate([dec2, tiny_dec, anti_dec, off_dec]),
    }
    sql, distance = evaluate(worker, columns, ["scisql_angSep(ra1, dec1, ra2, dec2)",
                                               "qserv_distance_deg(ra1, dec1, ra2, dec2)"])
    expected = angular_separation_deg(columns["ra1"], columns["dec1"], columns["ra2"], columns["dec2"])
    np.testing.assert_allclose(np.array(sql), expected, rtol=0.0, atol=EPS_DEG)
    assert np.array_equal(np.array(sql), np.array(distance))
    tiny = slice(3000, 5000)
    np.testing.assert_allclose(np.array(sql)[tiny], expected[tiny], rtol=1e-6, atol=0.0)
    np.testing.assert_allclose(np.array(sql)[5000:7000], 180.0, atol=EPS_DEG)


def check_predicate(worker, regions, ra, dec, call, near_boundary):
    """Each region's SQL answer (``call(region)`` is the SQL) equals contains_reference, except
    where ``near_boundary(region, ra, dec)`` is True; both sides must occur."""
    answers = evaluate(worker, {"ra": ra, "dec": dec}, [call(region) for region in regions])
    for region, answer in zip(regions, answers):
        expected = region.contains_reference(ra, dec)
        keep = ~near_boundary(region, ra, dec)
        got = as_bool(answer)
        mismatched = np.flatnonzero(keep & (got != expected))
        assert mismatched.size == 0, (region, ra[mismatched[:5]], dec[mismatched[:5]])
        assert keep.sum() > 0.99 * keep.size
        assert expected[keep].any() and (~expected[keep]).any(), region


def test_circles(worker):
    rng = np.random.default_rng(2)
    circles = [Circle(10, 20, 1), Circle(359.5, -30, 2), Circle(0, 90, 5), Circle(123, -89, 3),
               Circle(200, 10, 120), Circle(30, 60, 1e-4), Circle(45, 0, 179.9)]
    parts = [uniform_sphere(rng, 2000)]
    for c in circles:  # around the centre, and around the antipode for the large ones
        parts.append(near(rng, c.ra_deg, c.dec_deg, min(1.5 * c.radius_deg, 90), 2000))
        parts.append(near(rng, *antipodes(c.ra_deg, c.dec_deg), min(1.5 * (180 - c.radius_deg), 90), 500))
    ra, dec = (np.concatenate(axis) for axis in zip(*parts))

    def call(c):
        return f"scisql_s2PtInCircle(ra, dec, {c.ra_deg}, {c.dec_deg}, {c.radius_deg})"

    def near_boundary(c, ra, dec):
        return np.abs(angular_separation_deg(ra, dec, c.ra_deg, c.dec_deg) - c.radius_deg) < EPS_DEG

    check_predicate(worker, circles, ra, dec, call, near_boundary)


BOXES = [Box(10, -10, 20, 10), Box(350, -5, 10, 5), Box(0, 30, 360, 40), Box(100, 80, 140, 90),
         Box(200, -90, 250, -85), Box(300, 0, 360, 10), Box(0, 0, 360, 90), Box(5, -60, 355, -20)]


def _box_call(box):
    return (f"scisql_s2PtInBox(ra, dec, {box.ra_min_deg}, {box.dec_min_deg}, "
            f"{box.ra_max_deg}, {box.dec_max_deg})")


def test_boxes(worker):
    rng = np.random.default_rng(3)
    parts = [uniform_sphere(rng, 2000)]
    for box in BOXES:
        width = 360.0 if box.full_ra else (box.ra_max_deg - box.ra_min_deg) % 360.0
        ra = (box.ra_min_deg - 2.0 + rng.uniform(0.0, width + 4.0, 2000)) % 360.0
        dec = rng.uniform(max(box.dec_min_deg - 2.0, -90.0), min(box.dec_max_deg + 2.0, 90.0), 2000)
        parts.append((ra, dec))
    ra, dec = (np.concatenate(axis) for axis in zip(*parts))

    def near_boundary(box, ra, dec):
        def ra_gap(side):
            gap = np.abs(ra - side) % 360.0
            return np.minimum(gap, 360.0 - gap)
        near_sides = (ra_gap(box.ra_min_deg) < EPS_DEG) | (ra_gap(box.ra_max_deg) < EPS_DEG)
        near_parallels = ((np.abs(dec - box.dec_min_deg) < EPS_DEG)
                          | (np.abs(dec - box.dec_max_deg) < EPS_DEG))
        return near_parallels | (near_sides & (not box.full_ra))

    check_predicate(worker, BOXES, ra, dec, _box_call, near_boundary)


def test_boxes_exact_edges_and_poles(worker):
    """RA 360 as RA 0, boundaries included, a pole belongs to a box reaching it at any RA."""
    ra = np.array([360.0, 0.0, 10.0, 350.0, 5.0, 5.0, 225.0, 0.0, 360.0, 120.0, 20.0, 100.0])
    dec = np.array([0.0, 0.0, 5.0, -5.0, 90.0, 89.99, -90.0, -90.0, 5.0, 80.0, 10.0, 90.0])
    answers = evaluate(worker, {"ra": ra, "dec": dec}, [_box_call(box) for box in BOXES])
    for box, answer in zip(BOXES, answers):
        assert np.array_equal(as_bool(answer), box.contains_reference(ra, dec)), box
    pole_box = as_bool(answers[3])
    assert pole_box[4] and not pole_box[5] and pole_box[11]


def test_ellipses(worker):
    rng = np.random.default_rng(4)
    ellipses = [Ellipse(10, 20, 3600, 1800, 30), Ellipse(200, 85, 7200, 1000, 120),
                Ellipse(45, 89.99, 100, 50, 10), Ellipse(0, 90, 200, 100, 45),
                Ellipse(300, -60, 35000, 20000, -70), Ellipse(100, 0, 0.5, 0.2, 0),
                Ellipse(250, -88, 20000, 500, 95)]
    parts = [uniform_sphere(rng, 2000)]
    for e in ellipses:
        around = near(rng, e.ra_deg, e.dec_deg, 1.3 * e.semi_major_arcsec / 3600.0, 2000)
        parts += [around, antipodes(*around)]  # the far side fails only the hemisphere condition
    ra, dec = (np.concatenate(axis) for axis in zip(*parts))

    def call(e):
        return (f"scisql_s2PtInEllipse(ra, dec, {e.ra_deg}, {e.dec_deg}, {e.semi_major_arcsec}, "
                f"{e.semi_minor_arcsec}, {e.position_angle_deg})")

    def near_boundary(e, ra, dec):
        step = EPS_DEG * 3600.0
        grown, shrunk = (Ellipse(e.ra_deg, e.dec_deg, e.semi_major_arcsec + sign * step,
                                 e.semi_minor_arcsec + sign * step, e.position_angle_deg)
                         for sign in (1, -1))
        return grown.contains_reference(ra, dec) != shrunk.contains_reference(ra, dec)

    check_predicate(worker, ellipses, ra, dec, call, near_boundary)


def edge_distance_deg(polygon, ra, dec):
    """Great-circle distance (degrees) from each point to the polygon's nearest edge arc."""
    start = polygon.vertices
    end = np.roll(start, -1, axis=0)
    normals = np.cross(start, end)
    normals /= np.linalg.norm(normals, axis=1)[:, None]
    points = unit_vectors(ra, dec)
    to_circle = np.degrees(np.arcsin(np.minimum(np.abs(points @ normals.T), 1.0)))
    on_arc = ((points @ np.cross(normals, start).T >= 0)
              & (points @ np.cross(end, normals).T >= 0))
    vertex_ra, vertex_dec = polygon.ra_deg[None, :], polygon.dec_deg[None, :]
    to_vertex = angular_separation_deg(ra[:, None], dec[:, None], vertex_ra, vertex_dec)
    to_ends = np.minimum(to_vertex, np.roll(to_vertex, -1, axis=1))
    return np.where(on_arc, to_circle, to_ends).min(axis=1)


def _star(ra_deg, dec_deg, points, inner, outer):
    angles = np.arange(2 * points) * np.pi / points
    radius = np.where(np.arange(2 * points) % 2 == 0, outer, inner)
    return (ra_deg + radius * np.sin(angles) / np.cos(np.radians(dec_deg))) % 360.0, \
        dec_deg + radius * np.cos(angles)


POLYGONS = [
    # A U shape (non-convex), in both vertex orders.
    Polygon([10, 20, 20, 17, 17, 13, 13, 10], [0, 0, 10, 10, 3, 3, 10, 10]),
    Polygon([10, 13, 13, 17, 17, 20, 20, 10], [10, 10, 3, 3, 10, 10, 0, 0]),
    # A five-pointed star around the north pole, and one at high southern Dec.
    Polygon(np.arange(10) * 36.0, np.where(np.arange(10) % 2 == 0, 75.0, 87.0)),
    Polygon(*_star(140.0, -70.0, 5, 1.0, 4.0)),
    # Convex, across RA 0, and a large triangle.
    Polygon([350, 10, 10, 350], [-5, -5, 5, 5]),
    Polygon([0, 90, 45], [0, 0, 60]),
]


def test_polygons(worker):
    rng = np.random.default_rng(5)
    parts = [uniform_sphere(rng, 2000)]
    for polygon in POLYGONS:
        index = rng.integers(0, len(polygon.ra_deg), 3000)
        around = near(rng, polygon.ra_deg[index], polygon.dec_deg[index], 4.0, 3000)
        parts += [around, antipodes(*around)]
    ra, dec = (np.concatenate(axis) for axis in zip(*parts))
    backend = worker.backend

    def near_boundary(polygon, ra, dec):
        return edge_distance_deg(polygon, ra, dec) < EPS_DEG

    check_predicate(worker, POLYGONS, ra, dec,
                    lambda polygon: polygon_condition_sql("ra", "dec", polygon, backend), near_boundary)


def test_polygon_vertices_and_null(worker):
    """Vertices lie on the boundary, hence inside; a NULL position is never inside."""
    polygon = POLYGONS[0]
    ra, dec = np.append(polygon.ra_deg, np.nan), np.append(polygon.dec_deg, 0.0)
    condition = polygon_condition_sql("ra", "dec", polygon, worker.backend)
    (answer,) = evaluate(worker, {"ra": ra, "dec": dec}, [f"CASE WHEN {condition} THEN 1 ELSE 0 END"])
    assert answer == [1] * len(polygon.ra_deg) + [0]


NULL_CASES = [  # (function, arguments giving a non-NULL answer)
    ("scisql_angSep", (10, 20, 11, 21)),
    ("qserv_distance_deg", (10, 20, 11, 21)),
    ("scisql_s2PtInCircle", (5, 90, 100, 89, 2)),
    ("scisql_s2PtInBox", (5, 90, 100, 80, 120, 90)),
    ("scisql_s2PtInEllipse", (0, 0, 0, 0, 10, 5, 30)),
    ("scisql_fluxToAbMag", (1e-29,)),
    ("scisql_fluxToAbMagSigma", (1e-29, 1e-30)),
    ("scisql_nanojanskyToAbMag", (100,)),
    ("scisql_nanojanskyToAbMagSigma", (100, 10)),
    ("scisql_abMagToNanojansky", (20,)),
]


def test_null_in_null_out(worker):
    assert sorted(name for name, _ in NULL_CASES) == sorted(FUNCTION_NAMES)
    calls = []
    for name, arguments in NULL_CASES:
        calls.append(f"{name}({', '.join(map(str, arguments))})")
        for position in range(len(arguments)):
            with_null = ["NULL" if k == position else str(a) for k, a in enumerate(arguments)]
            calls.append(f"{name}({', '.join(with_null)})")
    row = worker.query("SELECT " + ", ".join(f"{c} AS r{k}" for k, c in enumerate(calls))).to_pylist()[0]
    for k, call in enumerate(calls):
        assert (row[f"r{k}"] is None) == ("NULL" in call), call


def test_flux_functions(worker):
    rng = np.random.default_rng(6)
    flux = np.concatenate([10 ** rng.uniform(-3, 9, 3000), -10 ** rng.uniform(-3, 9, 500), [0.0]])
    sigma = np.where(rng.uniform(size=flux.size) < 0.1, -1.0, 1.0) * 10 ** rng.uniform(-3, 6, flux.size)
    mag = rng.uniform(-30.0, 60.0, flux.size)
    results = evaluate(worker, {"f": flux, "s": sigma, "m": mag}, [
        "scisql_nanojanskyToAbMag(f)", "scisql_fluxToAbMag(f * 1e-32)",
        "scisql_nanojanskyToAbMagSigma(f, s)", "scisql_fluxToAbMagSigma(f * 1e-32, s * 1e-32)",
        "scisql_abMagToNanojansky(m)",
    ])
    nj_mag, cgs_mag, nj_sigma, cgs_sigma, nj_flux = (
        np.array([np.nan if v is None else v for v in values]) for values in results)
    positive, valid_sigma = flux > 0, (flux > 0) & (sigma >= 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected_mag = np.where(positive, -2.5 * np.log10(flux) + 31.4, np.nan)
        expected_sigma = np.where(valid_sigma, 2.5 / np.log(10) * sigma / flux, np.nan)
    np.testing.assert_allclose(nj_mag, expected_mag, rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(cgs_mag, expected_mag, rtol=1e-13, atol=1e-9)  # 1 nJy = 1e-32 cgs
    np.testing.assert_allclose(nj_sigma, expected_sigma, rtol=1e-13)
    np.testing.assert_allclose(cgs_sigma, expected_sigma, rtol=1e-9)
    np.testing.assert_allclose(nj_flux, 10 ** ((31.4 - mag) / 2.5), rtol=1e-13)


def test_flux_special_values(worker):
    calls = {
        "scisql_nanojanskyToAbMag(CAST('NaN' AS FLOAT8))": None,
        "scisql_nanojanskyToAbMag(CAST('Infinity' AS FLOAT8))": None,
        "scisql_fluxToAbMag(0)": None,
        "scisql_fluxToAbMag(-1)": None,
        "scisql_nanojanskyToAbMagSigma(100, -1)": None,
        "scisql_fluxToAbMagSigma(100, CAST('NaN' AS FLOAT8))": None,
        "scisql_abMagToNanojansky(1e6)": None,
        "scisql_abMagToNanojansky(-1e6)": None,
        "scisql_abMagToNanojansky(CAST('-Infinity' AS FLOAT8))": None,
        "scisql_abMagToNanojansky(31.4)": 1.0,
        "scisql_nanojanskyToAbMag(3631e9)": -2.5 * np.log10(3631e9) + 31.4,
        "scisql_fluxToAbMag(3631e-23)": -2.5 * np.log10(3631e-23) - 48.6,
    }
    row = worker.query("SELECT " + ", ".join(f"{c} AS r{k}" for k, c in enumerate(calls))).to_pylist()[0]
    for k, (call, expected) in enumerate(calls.items()):
        assert row[f"r{k}"] == (None if expected is None else pytest.approx(expected, abs=1e-12)), call


def test_postgres_inlines_every_function(pg_dsn):
    worker = open_worker("fn-inline", "postgres", pg_dsn)
    try:
        install(worker)
        worker.execute("CREATE TABLE fn_inline (ra FLOAT8, dec FLOAT8, f FLOAT8)")
        calls = ", ".join(f"{name}({', '.join(['ra', 'dec', 'f', 'ra', 'dec', 'f', 'ra'][:len(args)])})"
                          for name, args in NULL_CASES)
        with psycopg2.connect(pg_dsn) as connection, connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN VERBOSE SELECT {calls} FROM fn_inline")
            plan = "\n".join(line for (line,) in cursor.fetchall()).lower()
        connection.close()
        for name in FUNCTION_NAMES:
            assert name.lower() not in plan
        assert "atan2" in plan and "log10" in plan
    finally:
        worker.execute("DROP TABLE IF EXISTS fn_inline")
        worker.close()
