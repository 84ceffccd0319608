"""Coverage never misses: every position a region contains falls in a covered pixel."""

import healpy
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qserv.sphere.angles import vector_separation_rad, vectors_to_radec
from qserv.sphere.box import Box
from qserv.sphere.circle import Circle
from qserv.sphere.coverage import chunk_and_subchunk_coverage, coverage
from qserv.sphere.ellipse import Ellipse
from qserv.sphere.pixels import bounding_radius_rad, nside_of, pixel_centres, pixel_count
from qserv.sphere.polygon import Polygon

ORDERS = [3, 5, 7]

AWKWARD_REGIONS = [
    Box(350.0, -10.0, 10.0, 10.0),
    Box(359.0, 30.0, 1.0, 31.0),
    Box(0.0, 80.0, 360.0, 90.0),
    Box(100.0, 85.0, 101.0, 90.0),
    Box(200.0, -90.0, 260.0, -89.0),
    Box(10.0, -90.0, 10.0, 90.0),
    Box(0.0, -90.0, 360.0, 90.0),
    Circle(0.0, 90.0, 1.0),
    Circle(359.99, -89.9, 0.5),
    Circle(45.0, 0.0, 1.0 / 3600.0),
    Circle(123.0, -45.0, 30.0),
    Ellipse(0.0, -90.0, 36000.0, 600.0, 30.0),
    Ellipse(359.999, 0.0, 1.0, 0.5, 90.0),
    Polygon([0.0, 90.0, 180.0, 270.0], [85.0, 85.0, 85.0, 85.0]),
    Polygon([350.0, 10.0, 10.0, 5.0, 350.0], [-5.0, -5.0, 5.0, 0.0, 5.0]),
    Polygon([0.0, 120.0, 240.0], [-10.0, -10.0, -10.0]),
]


def on_pixel_boundaries(region, ra, dec, order):
    """Corners and edge points of pixels (at ``order`` and finer) around the given positions
    that the region contains."""
    ra_parts, dec_parts = [], []
    for level in (order, order + 1, order + 3):
        pixels = np.unique(healpy.ang2pix(nside_of(level), ra, dec, nest=True, lonlat=True))[:300]
        if pixels.size:
            outline = healpy.boundaries(nside_of(level), pixels, step=3, nest=True)
            corners = outline.transpose(0, 2, 1).reshape(-1, 3)  # healpy: (pixels, 3, points)
            boundary_ra, boundary_dec = vectors_to_radec(corners)
            ra_parts.append(boundary_ra)
            dec_parts.append(boundary_dec)
    ra, dec = np.concatenate(ra_parts), np.concatenate(dec_parts)
    keep = region.contains(ra, dec)
    return ra[keep], dec[keep]


def assert_covered(sky, region, order, seed):
    rng = np.random.default_rng(seed)
    ra, dec = sky.inside_points(rng, region, 3000)
    corner_ra, corner_dec = on_pixel_boundaries(region, ra, dec, order)
    ra, dec = np.concatenate([ra, corner_ra]), np.concatenate([dec, corner_dec])
    assert ra.size > 0
    covered = coverage(region, order)
    assert covered.dtype == np.int64 and np.all(np.diff(covered) > 0)
    pixels = healpy.ang2pix(nside_of(order), ra, dec, nest=True, lonlat=True)
    missing = ~np.isin(pixels, covered)
    assert not missing.any(), (region, order, ra[missing][:5], dec[missing][:5])


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("region", AWKWARD_REGIONS, ids=repr)
def test_awkward_regions_are_covered(sky, region, order):
    assert_covered(sky, region, order, seed=order)


@pytest.mark.parametrize("order", ORDERS)
@settings(max_examples=150, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_random_regions_are_covered(sky, order, data, seed):
    assert_covered(sky, data.draw(sky.regions()), order, seed)


def test_one_degree_cone_coverage_is_not_loose():
    order = 7
    circle = Circle(40.0, 30.0, 1.0)
    centres = pixel_centres(order, np.arange(pixel_count(order)))
    grown = np.radians(1.0) + bounding_radius_rad(order)
    near = np.count_nonzero(vector_separation_rad(centres, circle.centre) <= grown)
    assert len(coverage(circle, order)) < 3 * near


def test_chunks_are_the_parents_of_the_covered_subchunks():
    box = Box(350.0, -10.0, 10.0, 10.0)
    chunks, subchunks = chunk_and_subchunk_coverage(box, 5, 7)
    assert np.array_equal(chunks, np.unique(subchunks >> 4))
    assert np.array_equal(subchunks, coverage(box, 7))
