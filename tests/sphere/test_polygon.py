import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qserv.errors import InvalidCoordinatesError, InvalidRegionError
from qserv.sphere.angles import unit_vectors, vector_separation_rad, vectors_to_radec
from qserv.sphere.polygon import Polygon

BOUNDARY_BAND = 1e-9  # points this close (sine of angle) to a piece's edge are not compared


def convex_margin(vertices, points):
    """Smallest signed (sine) distance from points to the edges of a convex polygon, positive
    inside: the intersection of the hemispheres bounded by its edges."""
    normals = np.cross(vertices, np.roll(vertices, -1, axis=0))
    normals /= np.linalg.norm(normals, axis=1)[:, None]
    inner = vertices.sum(axis=0)
    normals *= np.sign(normals @ inner)[:, None]
    return (points @ normals.T).min(axis=1)


def union_margin(pieces, points):
    """Largest convex margin over pieces: >= 0 inside their union."""
    return np.max([convex_margin(piece, points) for piece in pieces], axis=0)


def assert_matches_pieces(polygon, pieces, ra, dec):
    margin = union_margin(pieces, unit_vectors(ra, dec))
    clear = np.abs(margin) > BOUNDARY_BAND
    assert clear.mean() > 0.9
    assert np.array_equal(polygon.contains_reference(ra, dec)[clear], margin[clear] >= 0)


def sample_around(sky, rng, polygon, count):
    centre, radius_rad = polygon.bounding_cap()
    near = sky.points_near(rng, *vectors_to_radec(centre), 1.5 * np.degrees(radius_rad), count)
    return (np.concatenate(parts) for parts in zip(near, sky.uniform_points(rng, count // 4)))


@settings(max_examples=80, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_convex_polygons_match_half_space_tests(sky, data, seed):
    polygon = data.draw(sky.polygons("convex"))
    ra, dec = sample_around(sky, np.random.default_rng(seed), polygon, 3000)
    assert_matches_pieces(polygon, [polygon.vertices], ra, dec)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_stars_match_the_union_of_their_fan_triangles(sky, data, seed):
    polygon, centre = data.draw(sky.polygon_outlines("star"))
    following = np.roll(polygon.vertices, -1, axis=0)
    fan = [np.stack([centre, start, end]) for start, end in zip(polygon.vertices, following)]
    ra, dec = sample_around(sky, np.random.default_rng(seed), polygon, 3000)
    assert_matches_pieces(polygon, fan, ra, dec)


def from_tangent_plane(ra_deg, dec_deg, rotation_deg, plane_xy):
    """Inverse gnomonic projection (straight lines -> great circles) at a centre, the plane axes
    turned by ``rotation_deg``."""
    ra, dec, turn = np.radians([ra_deg, dec_deg, rotation_deg])
    centre = unit_vectors(ra_deg, dec_deg)
    north = np.array([-np.sin(dec) * np.cos(ra), -np.sin(dec) * np.sin(ra), np.cos(dec)])
    east = np.array([-np.sin(ra), np.cos(ra), 0.0])
    x_axis, y_axis = np.cos(turn) * east + np.sin(turn) * north, np.cos(turn) * north - np.sin(turn) * east
    vectors = centre + plane_xy[:, :1] * x_axis + plane_xy[:, 1:] * y_axis
    return vectors / np.linalg.norm(vectors, axis=1)[:, None]


@settings(max_examples=60, deadline=None)
@given(ra=st.floats(0, 360), dec=st.floats(-90, 90), rotation=st.floats(0, 360),
       scale=st.floats(1e-5, 0.4), reverse=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_l_shape_matches_the_union_of_its_two_rectangles(sky, ra, dec, rotation, scale, reverse, seed):
    l_shape = np.array([[0, 0], [2, 0], [2, 1], [1, 1], [1, 2], [0, 2]], dtype=float) - 0.7
    rectangles = [np.array([[0, 0], [2, 0], [2, 1], [0, 1]]) - 0.7,
                  np.array([[0, 1], [1, 1], [1, 2], [0, 2]]) - 0.7]
    outline = from_tangent_plane(ra, dec, rotation, scale * l_shape)[::-1 if reverse else 1]
    pieces = [from_tangent_plane(ra, dec, rotation, scale * rectangle) for rectangle in rectangles]
    polygon = Polygon(*vectors_to_radec(outline))
    ra_points, dec_points = sample_around(sky, np.random.default_rng(seed), polygon, 3000)
    assert_matches_pieces(polygon, pieces, ra_points, dec_points)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_vertex_order_does_not_matter(sky, data, seed):
    polygon = data.draw(sky.polygons())
    reverse = Polygon(polygon.ra_deg[::-1], polygon.dec_deg[::-1])
    ra, dec = sample_around(sky, np.random.default_rng(seed), polygon, 3000)
    assert np.array_equal(polygon.contains(ra, dec), reverse.contains(ra, dec))


def test_known_points_of_a_notched_square():
    polygon = Polygon([0.0, 10.0, 10.0, 5.0, 0.0], [0.0, 0.0, 10.0, 5.0, 10.0])
    assert polygon.contains([5.0, 10.0, 5.0, 2.0], [0.0, 3.0, 4.0, 5.0]).all()  # edges 0, 1; inside
    assert not polygon.contains([5.0, 5.0, 10.1], [6.0, -0.01, 5.0]).any()  # in the notch, outside


@settings(max_examples=60, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_vertices_and_edges_are_inside(sky, data, seed):
    polygon = data.draw(sky.polygons())
    ra, dec = sky.boundary_points(np.random.default_rng(seed), polygon, 500)
    assert polygon.contains(polygon.ra_deg, polygon.dec_deg).all()
    assert polygon.contains(ra, dec).all() and polygon.contains_reference(ra, dec).all()


def test_interior_is_the_smaller_side_even_around_a_pole():
    south = Polygon([0.0, 120.0, 240.0], [-10.0, -10.0, -10.0])
    assert south.contains([0.0, 77.0, 0.0], [-90.0, -60.0, -11.0]).all()
    assert not south.contains([0.0, 0.0], [0.0, 90.0]).any()
    north = Polygon([0.0, 90.0, 180.0, 270.0], [80.0, 80.0, 80.0, 80.0])
    ra = np.linspace(0.0, 360.0, 25)
    assert north.contains(ra, np.full_like(ra, 85.0)).all() and north.contains(0.0, 90.0).all()
    assert not north.contains(ra, np.full_like(ra, 79.0)).any()


def test_polygon_across_ra_zero_and_with_a_vertex_at_a_pole():
    wrap = Polygon([350.0, 10.0, 10.0, 350.0], [-5.0, -5.0, 5.0, 5.0])
    assert wrap.contains([0.0, 360.0, 359.0, 1.0], [0.0, 0.0, 4.0, -4.0]).all()
    assert not wrap.contains([180.0, 11.0, 349.0], [0.0, 0.0, 0.0]).any()
    polar = Polygon([0.0, 0.0, 90.0], [90.0, 80.0, 80.0])
    assert polar.contains([45.0, 10.0, 123.0], [85.0, 89.0, 90.0]).all()
    assert not polar.contains([180.0, 300.0], [85.0, 85.0]).any()


@pytest.mark.parametrize(
    "ra, dec, message",
    [
        ([0.0, 10.0], [0.0, 0.0], "a polygon needs at least 3 vertices, got 2"),
        ([0.0, 10.0, 10.0, 0.0], [0.0, 0.0, 0.0, 10.0],
         "polygon vertices 1 and 2 are repeated; consecutive vertices must differ"),
        ([0.0, 10.0, 0.0, 0.0], [0.0, 0.0, 10.0, 0.0], "polygon vertices 3 and 0 are repeated"),
        ([0.0, 360.0, 10.0], [5.0, 5.0, 0.0], "polygon vertices 0 and 1 are repeated"),
        ([0.0, 180.0, 90.0], [0.0, 0.0, 45.0],
         "polygon vertices 0 and 1 are antipodal; the edge joining them is undefined"),
        ([0.0, 10.0, 20.0, 5.0], [0.0, 0.0, 0.0, 0.0],
         "polygon has zero area: all its vertices lie on one great circle"),
        ([0.0, 90.0, 180.0, 270.0], [0.0, 0.0, 0.0, 10.0], "polygon does not fit in a hemisphere"),
        ([0.0, 10.0, 10.0, 0.0], [0.0, 10.0, 0.0, 10.0],
         r"polygon is self-intersecting: edge 0 \(vertex 0 to vertex 1\) crosses "
         r"edge 2 \(vertex 2 to vertex 3\)"),
        ([0.0, 10.0, 10.0, 5.0], [0.0, 0.0, 10.0, 0.0],
         r"polygon is self-intersecting: vertex 3 \(where edges 2 and 3 meet\) lies on edge 0 "
         r"\(vertex 0 to vertex 1\)"),
        ([0.0, 10.0, 10.0, 0.0, 10.0, 0.0], [0.0, 0.0, 10.0, 10.0, 20.0, 20.0],
         r"polygon is self-intersecting: .*edge"),
        ([0.0, 10.0, 5.0, 0.0, -1.0 + 360.0], [0.0, 0.0, 5.0, 0.0, 5.0],
         r"polygon is self-intersecting: vertex 0 \(where edges 4 and 0 meet\) lies on edge 2"),
    ],
)
def test_invalid_polygons_are_refused(ra, dec, message):
    with pytest.raises(InvalidRegionError, match=message):
        Polygon(ra, dec)


def test_invalid_vertex_is_refused_with_its_index():
    with pytest.raises(InvalidCoordinatesError, match="invalid polygon vertex at index 2: dec_deg=nan"):
        Polygon([0.0, 1.0, 1.0], [0.0, 0.0, float("nan")])


@settings(max_examples=60, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_cap_test_is_conservative_and_tight(sky, data, seed):
    polygon = data.draw(sky.polygons())
    rng = np.random.default_rng(seed)
    centre, radius_rad = polygon.bounding_cap()
    cap_ra, cap_dec = (np.concatenate(parts) for parts in zip(
        sky.points_near(rng, *vectors_to_radec(centre), 3 * np.degrees(radius_rad), 100),
        sky.uniform_points(rng, 50)))
    centres = unit_vectors(cap_ra, cap_dec)
    steps = np.linspace(0.0, 1.0, 501)[:, None, None]
    following = np.roll(polygon.vertices, -1, axis=0)
    samples = (polygon.vertices * (1 - steps) + following * steps).reshape(-1, 3)
    samples /= np.linalg.norm(samples, axis=1)[:, None]
    gap_rad = vector_separation_rad(polygon.vertices, following).max() / 500
    sampled = vector_separation_rad(centres[:, None, :], samples[None, :, :]).min(axis=1)
    sampled[polygon.contains_reference(cap_ra, cap_dec)] = 0.0
    assert polygon.cap_may_intersect(centres, sampled + 1e-12).all()
    clear = sampled > gap_rad + 1e-9
    assert not polygon.cap_may_intersect(centres[clear], sampled[clear] - gap_rad - 1e-9).any()


def test_repr_rebuilds_the_polygon():
    polygon = Polygon([350.0, 10.0, 0.0], [0.0, 0.0, 10.0])
    rebuilt = eval(repr(polygon), {"Polygon": Polygon})
    assert repr(rebuilt) == repr(polygon) == "Polygon(ra_deg=[350.0, 10.0, 0.0], dec_deg=[0.0, 0.0, 10.0])"
