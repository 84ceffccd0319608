import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from hypothesis import given, settings
from hypothesis import strategies as st

from qserv.errors import InvalidCoordinatesError, InvalidRegionError
from qserv.sphere.angles import unit_vectors
from qserv.sphere.circle import Circle


def astropy_separation_deg(ra1, dec1, ra2, dec2):
    return SkyCoord(ra1 * u.deg, dec1 * u.deg).separation(SkyCoord(ra2 * u.deg, dec2 * u.deg)).deg


@settings(max_examples=60, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_reference_matches_astropy_separation(sky, data, seed):
    circle = data.draw(sky.circles())
    rng = np.random.default_rng(seed)
    near_ra, near_dec = sky.points_near(rng, circle.ra_deg, circle.dec_deg, 2 * circle.radius_deg, 2000)
    far_ra, far_dec = sky.uniform_points(rng, 500)
    ra, dec = np.concatenate([near_ra, far_ra]), np.concatenate([near_dec, far_dec])
    separation = astropy_separation_deg(circle.ra_deg, circle.dec_deg, ra, dec)
    clear = np.abs(separation - circle.radius_deg) > 1e-9
    expected = separation <= circle.radius_deg
    assert np.array_equal(circle.contains_reference(ra, dec)[clear], expected[clear])


def test_known_points_and_ra_wrap():
    circle = Circle(359.5, 0.0, 1.0)
    assert circle.contains([0.0, 360.0, 359.5, 0.49], [0.0, 0.0, 0.99, 0.0]).all()
    assert not circle.contains([0.51, 180.0, 359.5], [0.0, 0.0, 1.01]).any()


def test_circle_around_a_pole_holds_every_ra():
    circle = Circle(123.0, 90.0, 2.0)
    ra = np.linspace(0.0, 360.0, 37)
    assert circle.contains(ra, np.full_like(ra, 88.01)).all()
    assert not circle.contains(ra, np.full_like(ra, 87.99)).any()


@pytest.mark.parametrize(
    "radius, message",
    [(-1.0, "circle radius must be in [0, 180] degrees, got -1.0"),
     (180.5, "got 180.5"),
     (float("nan"), "got nan")],
)
def test_invalid_radius_is_refused(radius, message):
    with pytest.raises(InvalidRegionError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Circle(10.0, 10.0, radius)


def test_invalid_centre_is_refused():
    with pytest.raises(InvalidCoordinatesError, match="invalid circle centre at index 0: dec_deg=91.0"):
        Circle(10.0, 91.0, 1.0)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_cap_test_is_conservative_and_tight(sky, data, seed):
    circle = data.draw(sky.circles())
    rng = np.random.default_rng(seed)
    cap_ra, cap_dec = sky.points_near(rng, circle.ra_deg, circle.dec_deg, 3 * circle.radius_deg + 1.0, 300)
    separation = astropy_separation_deg(circle.ra_deg, circle.dec_deg, cap_ra, cap_dec)
    distance_rad = np.radians(np.maximum(separation - circle.radius_deg, 0.0))
    centres = unit_vectors(cap_ra, cap_dec)
    assert circle.cap_may_intersect(centres, distance_rad * (1 + 1e-9) + 1e-12).all()
    outside = distance_rad > 1e-7
    missing = circle.cap_may_intersect(centres[outside], distance_rad[outside] * (1 - 1e-6) - 1e-9)
    assert not missing.any()


def test_repr_rebuilds_the_circle_and_bounding_cap_is_itself():
    circle = Circle(12.5, -45.0, 0.25)
    rebuilt = eval(repr(circle), {"Circle": Circle})
    assert (rebuilt.ra_deg, rebuilt.dec_deg, rebuilt.radius_deg) == (12.5, -45.0, 0.25)
    centre, radius_rad = circle.bounding_cap()
    assert np.allclose(centre, unit_vectors(12.5, -45.0)) and radius_rad == np.radians(0.25)
