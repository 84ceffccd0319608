"""The compiled kernels (qserv._ext.regions, behind ``contains``) against the numpy references
(``contains_reference``): same answers, same refusals."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qserv.errors import InvalidCoordinatesError, KernelsMissingError
from qserv import kernels
from qserv.kernels import load
from qserv.sphere.angles import vectors_to_radec
from qserv.sphere.box import Box
from qserv.sphere.circle import Circle
from qserv.sphere.ellipse import Ellipse
from qserv.sphere.polygon import Polygon

KINDS = ["circles", "boxes", "polygons", "ellipses"]
EXAMPLES = [
    Circle(10.0, 20.0, 5.0),
    Box(350.0, -10.0, 10.0, 10.0),
    Polygon([0.0, 10.0, 10.0, 5.0, 0.0], [0.0, 0.0, 10.0, 5.0, 10.0]),
    Ellipse(30.0, 40.0, 3600.0, 1000.0, 30.0),
]


def mixed_points(sky, rng, region, count):
    """Uniform positions, positions near and inside the region, its boundary, RA 0/360, poles."""
    pieces = [sky.uniform_points(rng, count), sky.inside_points(rng, region, count),
              sky.boundary_points(rng, region, count // 10)]
    if isinstance(region, Box):
        pieces.append(sky.box_points(rng, region, count))
    else:
        centre, radius_rad = region.bounding_cap()
        pieces.append(sky.points_near(rng, *vectors_to_radec(centre), 2 * np.degrees(radius_rad), count))
    ra, dec = (np.concatenate(parts) for parts in zip(*pieces))
    special_ra = np.array([0.0, 360.0, 180.0, 0.0, 360.0])
    special_dec = np.array([90.0, -90.0, 0.0, 0.0, 90.0])
    return np.concatenate([ra, special_ra]), np.concatenate([dec, special_dec])


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=50, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_kernel_matches_reference(sky, kind, data, seed):
    region = data.draw(getattr(sky, kind)())
    ra, dec = mixed_points(sky, np.random.default_rng(seed), region, 20000)
    kernel, reference = region.contains(ra, dec), region.contains_reference(ra, dec)
    assert kernel.dtype == bool and kernel.shape == ra.shape
    mismatched = np.flatnonzero(kernel != reference)
    assert mismatched.size == 0, (region, ra[mismatched[:5]], dec[mismatched[:5]])


BAD_POSITIONS = [
    (float("nan"), 0.0, "ra_deg=nan is not in"),
    (10.0, float("nan"), "dec_deg=nan is not in"),
    (float("inf"), 0.0, "ra_deg=inf"),
    (-1e-9, 0.0, "ra_deg=-1e-09"),
    (360.5, 0.0, "ra_deg=360.5"),
    (10.0, 90.000001, "dec_deg=90.000001"),
    (10.0, -91.0, "dec_deg=-91.0"),
]


@pytest.mark.parametrize("region", EXAMPLES, ids=repr)
@pytest.mark.parametrize("bad_ra, bad_dec, message", BAD_POSITIONS)
def test_invalid_positions_are_refused_by_both_naming_the_index(sky, region, bad_ra, bad_dec, message):
    ra, dec = sky.uniform_points(np.random.default_rng(0), 50)
    ra[17], dec[17] = bad_ra, bad_dec
    ra[30], dec[30] = float("nan"), float("nan")  # only the first offender is named
    expected = f"invalid position at index 17: .*{message}"
    for predicate in (region.contains, region.contains_reference):
        with pytest.raises(InvalidCoordinatesError, match=expected):
            predicate(ra, dec)
    with pytest.raises(InvalidCoordinatesError, match=expected):
        region._kernel_contains(load("regions"), ra, dec)  # the kernel refuses on its own


@pytest.mark.parametrize("region", EXAMPLES, ids=repr)
def test_shapes_scalars_lists_and_strided_arrays(region):
    assert region.contains(15.0, 5.0).shape == (1,)
    assert region.contains(np.array([]), np.array([])).shape == (0,)
    ra, dec = np.linspace(0.0, 360.0, 200), np.linspace(-90.0, 90.0, 200)
    assert np.array_equal(region.contains(ra[::2], dec[::2]), region.contains(list(ra[::2]), list(dec[::2])))
    for predicate in (region.contains, region.contains_reference):
        with pytest.raises(InvalidCoordinatesError, match="ra_deg and dec_deg differ in length"):
            predicate(ra, dec[:-1])


@pytest.mark.parametrize("region", EXAMPLES, ids=repr)
def test_contains_runs_the_kernel_with_no_silent_fallback(region, monkeypatch):
    def missing(name):
        raise KernelsMissingError(f"qserv._ext.{name} is not built")

    monkeypatch.setattr(kernels, "load", missing)
    with pytest.raises(KernelsMissingError, match="qserv._ext.regions is not built"):
        region.contains(10.0, 10.0)
    assert region.contains_reference(10.0, 10.0).shape == (1,)
