import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from hypothesis import given, settings
from hypothesis import strategies as st

from qserv.errors import InvalidCoordinatesError, InvalidRegionError
from qserv.sphere.angles import unit_vectors
from qserv.sphere.circle import Circle
from qserv.sphere.ellipse import Ellipse


def astropy_ellipse_measure(ellipse, ra, dec):
    """(u / sin a)^2 + (v / sin b)^2 from astropy's separation d and position angle phi of each
    point: its orthographic tangent-plane offset is sin(d) along phi, east of north."""
    centre = SkyCoord(ellipse.ra_deg * u.deg, ellipse.dec_deg * u.deg)
    points = SkyCoord(ra * u.deg, dec * u.deg)
    distance = centre.separation(points).rad
    angle = centre.position_angle(points).rad - np.radians(ellipse.position_angle_deg)
    sin_a = np.sin(np.radians(ellipse.semi_major_arcsec / 3600.0))
    sin_b = np.sin(np.radians(ellipse.semi_minor_arcsec / 3600.0))
    u_axis, v_axis = np.sin(distance) * np.cos(angle), np.sin(distance) * np.sin(angle)
    measure = (u_axis / sin_a) ** 2 + (v_axis / sin_b) ** 2
    return np.where(distance < np.pi / 2, measure, np.inf)


@settings(max_examples=80, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_reference_matches_astropy_position_angle_and_separation(sky, data, seed):
    ellipse = data.draw(sky.ellipses())
    rng = np.random.default_rng(seed)
    reach_deg = 1.5 * ellipse.semi_major_arcsec / 3600.0
    near = sky.points_near(rng, ellipse.ra_deg, ellipse.dec_deg, reach_deg, 2000)
    ra, dec = (np.concatenate(parts) for parts in zip(near, sky.uniform_points(rng, 200)))
    measure = astropy_ellipse_measure(ellipse, ra, dec)
    clear = np.abs(measure - 1.0) > 1e-7
    assert np.array_equal(ellipse.contains_reference(ra, dec)[clear], measure[clear] <= 1.0)
    assert (measure <= 1.0).sum() > 0


@settings(max_examples=40, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_equal_axes_make_a_circle(sky, data, seed):
    ra, dec, radius_deg = data.draw(sky.ras), data.draw(sky.decs), min(data.draw(sky.sizes_deg), 10.0)
    ellipse = Ellipse(ra, dec, radius_deg * 3600.0, radius_deg * 3600.0, data.draw(st.floats(0, 360)))
    circle = Circle(ra, dec, radius_deg)
    points_ra, points_dec = sky.points_near(np.random.default_rng(seed), ra, dec, 2 * radius_deg, 3000)
    points = SkyCoord(points_ra * u.deg, points_dec * u.deg)
    separation = SkyCoord(ra * u.deg, dec * u.deg).separation(points).deg
    clear = np.abs(separation - radius_deg) > 1e-9 * max(radius_deg, 1e-3)
    assert np.array_equal(ellipse.contains(points_ra, points_dec)[clear],
                          circle.contains(points_ra, points_dec)[clear])


@pytest.mark.parametrize(
    "position_angle_deg, inside, outside",
    [
        (0.0, [(0.0, 0.9), (0.0, -0.9), (0.09, 0.0)], [(0.9, 0.0), (0.11, 0.0), (0.0, 1.01)]),
        (90.0, [(0.9, 0.0), (359.1, 0.0), (0.0, 0.09)], [(0.0, 0.9), (1.01, 0.0)]),
        (45.0, [(0.6, 0.6), (359.4, -0.6)], [(359.4, 0.6), (0.6, -0.6)]),
    ],
)
def test_position_angle_is_east_of_north(position_angle_deg, inside, outside):
    ellipse = Ellipse(0.0, 0.0, 3600.0, 360.0, position_angle_deg)
    assert ellipse.contains(*np.array(inside).T).all()
    assert not ellipse.contains(*np.array(outside).T).any()


def test_ellipse_at_a_pole():
    ellipse = Ellipse(0.0, 90.0, 7200.0, 3600.0, 0.0)  # north at the pole: towards RA 180
    assert ellipse.contains([180.0, 0.0, 90.0, 37.0], [88.1, 88.1, 89.1, 90.0]).all()
    assert not ellipse.contains([90.0, 270.0], [88.1, 88.1]).any()


@pytest.mark.parametrize(
    "axes, message",
    [
        ((10.0, 20.0), "0 < semi_minor_arcsec <= semi_major_arcsec <= 36000, got semi_major_arcsec=10.0"),
        ((10.0, 0.0), "semi_minor_arcsec=0.0"),
        ((10.0, -1.0), "semi_minor_arcsec=-1.0"),
        ((36000.5, 1.0), "semi_major_arcsec=36000.5"),
        ((float("nan"), 1.0), "ellipse semi_major_arcsec must be finite, got nan"),
        ((10.0, float("inf")), "ellipse semi_minor_arcsec must be finite, got inf"),
        (("big", 1.0), "ellipse semi_major_arcsec must be a number, got 'big'"),
    ],
)
def test_invalid_axes_are_refused(axes, message):
    with pytest.raises(InvalidRegionError, match=message):
        Ellipse(10.0, 10.0, *axes, 0.0)


def test_invalid_position_angle_and_centre_are_refused():
    with pytest.raises(InvalidRegionError, match="ellipse position_angle_deg must be finite, got inf"):
        Ellipse(10.0, 10.0, 10.0, 5.0, float("inf"))
    with pytest.raises(InvalidCoordinatesError, match="invalid ellipse centre at index 0: ra_deg=-5.0"):
        Ellipse(-5.0, 10.0, 10.0, 5.0, 0.0)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_bounding_circle_holds_the_ellipse_so_the_cap_test_is_conservative(sky, data, seed):
    ellipse = data.draw(sky.ellipses())
    rng = np.random.default_rng(seed)
    ra, dec = sky.inside_points(rng, ellipse, 2000)
    separation = SkyCoord(ellipse.ra_deg * u.deg, ellipse.dec_deg * u.deg).separation(
        SkyCoord(ra * u.deg, dec * u.deg)).deg
    assert (separation <= ellipse.semi_major_arcsec / 3600.0 * (1 + 1e-9)).all()
    cap_ra, cap_dec = sky.uniform_points(rng, 100)
    centres = unit_vectors(cap_ra, cap_dec)
    reach = SkyCoord(cap_ra * u.deg, cap_dec * u.deg)[:, None].separation(
        SkyCoord(ra * u.deg, dec * u.deg)[None, :]).rad.min(axis=1)
    assert ellipse.cap_may_intersect(centres, reach + 1e-12).all()


def test_repr_rebuilds_the_ellipse():
    ellipse = Ellipse(10.0, -20.0, 30.0, 15.0, 120.0)
    assert repr(eval(repr(ellipse), {"Ellipse": Ellipse})) == repr(ellipse) == (
        "Ellipse(ra_deg=10.0, dec_deg=-20.0, semi_major_arcsec=30.0, semi_minor_arcsec=15.0, "
        "position_angle_deg=120.0)")
