"""Shared helpers for the region tests, handed out as the session fixture ``sky`` (test files run
under --import-mode=importlib and cannot import one another).

Strategies build regions from parameters chosen to hit the awkward places: RA 0/360, the poles,
boxes across RA 0, polygons that are stars (non-convex), sizes from an arcsecond to tens of
degrees. Sampling helpers return (ra_deg, dec_deg) arrays.
"""

import numpy as np
import pytest
from hypothesis import strategies as st

from qserv.sphere.angles import unit_vectors, vectors_to_radec
from qserv.sphere.box import Box
from qserv.sphere.circle import Circle
from qserv.sphere.ellipse import Ellipse
from qserv.sphere.polygon import Polygon


def local_frame(ra_deg, dec_deg):
    """(centre, north, east) unit vectors at a position (north at a pole: along -RA meridian)."""
    ra, dec = np.radians(ra_deg), np.radians(dec_deg)
    centre = unit_vectors(ra_deg, dec_deg)
    north = np.array([-np.sin(dec) * np.cos(ra), -np.sin(dec) * np.sin(ra), np.cos(dec)])
    east = np.array([-np.sin(ra), np.cos(ra), 0.0])
    return centre, north, east


def offset_positions(ra_deg, dec_deg, distance_deg, azimuth_deg):
    """Positions at great-circle ``distance_deg`` from a centre, azimuth east of north."""
    centre, north, east = local_frame(ra_deg, dec_deg)
    rho = np.radians(np.asarray(distance_deg, dtype=float))[..., None]
    phi = np.radians(np.asarray(azimuth_deg, dtype=float))[..., None]
    vectors = np.cos(rho) * centre + np.sin(rho) * (np.cos(phi) * north + np.sin(phi) * east)
    return vectors_to_radec(vectors)


def uniform_points(rng, count):
    return rng.uniform(0.0, 360.0, count), np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, count)))


def points_near(rng, ra_deg, dec_deg, radius_deg, count):
    """Uniform random positions in the cap of ``radius_deg`` around a centre."""
    cos_rho = rng.uniform(np.cos(np.radians(min(radius_deg, 180.0))), 1.0, count)
    return offset_positions(ra_deg, dec_deg, np.degrees(np.arccos(cos_rho)),
                            rng.uniform(0.0, 360.0, count))


def box_points(rng, box, count):
    """Random positions in a box's RA/Dec ranges, plus its corners, side midpoints and poles."""
    width = 360.0 if box.full_ra else (box.ra_max_deg - box.ra_min_deg) % 360.0
    ra = (box.ra_min_deg + rng.uniform(0.0, width, count)) % 360.0
    dec = rng.uniform(box.dec_min_deg, box.dec_max_deg, count)
    ra_edges = np.array([box.ra_min_deg, box.ra_max_deg, (box.ra_min_deg + 0.5 * width) % 360.0])
    dec_edges = np.array([box.dec_min_deg, box.dec_max_deg, 0.5 * (box.dec_min_deg + box.dec_max_deg)])
    edge_ra, edge_dec = np.meshgrid(ra_edges, dec_edges)
    return np.concatenate([ra, edge_ra.ravel()]), np.concatenate([dec, edge_dec.ravel()])


def boundary_points(rng, region, count):
    """Positions on (or within ~1e-10 deg inside) the boundary of a region."""
    if isinstance(region, Box):
        return box_points(rng, region, 0)
    if isinstance(region, Circle):
        azimuth = rng.uniform(0.0, 360.0, count)
        return offset_positions(region.ra_deg, region.dec_deg, region.radius_deg * (1 - 1e-12), azimuth)
    if isinstance(region, Polygon):
        edge = rng.integers(0, len(region.vertices), count)
        start, end = region.vertices[edge], np.roll(region.vertices, -1, axis=0)[edge]
        fraction = rng.uniform(0.0, 1.0, (count, 1))
        return vectors_to_radec(start * (1 - fraction) + end * fraction)
    centre, north, east = local_frame(region.ra_deg, region.dec_deg)
    angle = np.radians(region.position_angle_deg)
    major, minor = np.cos(angle) * north + np.sin(angle) * east, np.cos(angle) * east - np.sin(angle) * north
    t = rng.uniform(0.0, 2 * np.pi, (count, 1))
    shrink = 1 - 1e-10
    u = shrink * np.sin(np.radians(region.semi_major_arcsec / 3600.0)) * np.cos(t)
    v = shrink * np.sin(np.radians(region.semi_minor_arcsec / 3600.0)) * np.sin(t)
    return vectors_to_radec(np.sqrt(1 - u * u - v * v) * centre + u * major + v * minor)


def inside_points(rng, region, count):
    """Random positions that ``region.contains`` accepts, including boundary ones."""
    if isinstance(region, Box):
        ra, dec = box_points(rng, region, count)
    else:
        centre, radius_rad = region.bounding_cap()
        ra, dec = points_near(rng, *vectors_to_radec(centre), np.degrees(radius_rad) * 1.01, count)
    edge_ra, edge_dec = boundary_points(rng, region, count // 10)
    ra, dec = np.concatenate([ra, edge_ra]), np.concatenate([dec, edge_dec])
    keep = region.contains(ra, dec)
    return ra[keep], dec[keep]


# Strategies ----------------------------------------------------------------------------------

ras = st.one_of(st.floats(0.0, 360.0), st.sampled_from([0.0, 360.0, 1e-9, 359.999999, 180.0]))
decs = st.one_of(st.floats(-90.0, 90.0), st.sampled_from([90.0, -90.0, 89.9999, -89.99, 0.0]))
sizes_deg = st.floats(np.log(1 / 3600.0), np.log(30.0)).map(np.exp)


def circles():
    return st.builds(Circle, ras, decs, sizes_deg)


@st.composite
def boxes(draw):
    ra_min = draw(ras)
    width = draw(st.one_of(sizes_deg, st.floats(0.0, 360.0), st.sampled_from([0.0, 360.0])))
    dec_low = draw(decs)
    dec_high = draw(st.one_of(decs, sizes_deg.map(lambda size: min(dec_low + size, 90.0))))
    dec_min, dec_max = min(dec_low, dec_high), max(dec_low, dec_high)
    if width == 360.0:
        return Box(0.0, dec_min, 360.0, dec_max)
    return Box(ra_min, dec_min, (ra_min + width) % 360.0, dec_max)


@st.composite
def polygon_outlines(draw, shape=None):
    """(polygon, the centre it is star-shaped about): convex polygons (vertices on a small circle)
    or stars (alternating radii, at least 6 vertices); ``shape`` "convex" or "star" asks for one
    kind, None for either."""
    ra, dec, size = draw(ras), draw(decs), draw(sizes_deg)
    star = draw(st.booleans()) if shape is None else shape == "star"
    count = draw(st.integers(6, 12) if star else st.integers(3, 12))
    jitter = draw(st.lists(st.floats(-0.4, 0.4), min_size=count, max_size=count))
    azimuth = (np.arange(count) + np.array(jitter)) * 360.0 / count + draw(st.floats(0.0, 360.0))
    radius = np.full(count, size)
    if star:
        radius[1::2] *= draw(st.floats(0.2, 0.7))
    return Polygon(*offset_positions(ra, dec, radius, azimuth)), unit_vectors(ra, dec)


def polygons(shape=None):
    return polygon_outlines(shape).map(lambda outline: outline[0])


@st.composite
def ellipses(draw):
    semi_major = draw(sizes_deg.map(lambda size: min(size / 3.0, 10.0) * 3600.0))
    ratio = draw(st.floats(0.02, 1.0))
    return Ellipse(draw(ras), draw(decs), semi_major, semi_major * ratio, draw(st.floats(-360.0, 720.0)))


class Sky:
    """The helpers above, as one namespace for the ``sky`` fixture."""

    local_frame = staticmethod(local_frame)
    offset_positions = staticmethod(offset_positions)
    uniform_points = staticmethod(uniform_points)
    points_near = staticmethod(points_near)
    box_points = staticmethod(box_points)
    boundary_points = staticmethod(boundary_points)
    inside_points = staticmethod(inside_points)
    circles = staticmethod(circles)
    boxes = staticmethod(boxes)
    polygon_outlines = staticmethod(polygon_outlines)
    polygons = staticmethod(polygons)
    ellipses = staticmethod(ellipses)
    ras, decs, sizes_deg = ras, decs, sizes_deg

    @staticmethod
    def regions():
        return st.one_of(circles(), boxes(), polygons(), ellipses())


@pytest.fixture(scope="session")
def sky():
    return Sky
