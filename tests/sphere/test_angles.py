import re

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from hypothesis import given, settings
from hypothesis import strategies as st

from qserv.errors import InvalidCoordinatesError
from qserv.kernels import load
from qserv.sphere.angles import angular_separation_deg, unit_vectors, validate_positions, vectors_to_radec

ra_values = st.one_of(st.floats(0.0, 360.0), st.sampled_from([0.0, 360.0, 1e-12, 359.999999999]))
dec_values = st.one_of(st.floats(-90.0, 90.0), st.sampled_from([-90.0, 90.0, 0.0, 89.9999999]))


@settings(max_examples=300, deadline=None)
@given(ra_values, dec_values, ra_values, dec_values)
def test_separation_matches_astropy(ra1, dec1, ra2, dec2):
    expected = SkyCoord(ra1 * u.deg, dec1 * u.deg).separation(SkyCoord(ra2 * u.deg, dec2 * u.deg)).deg
    assert angular_separation_deg(ra1, dec1, ra2, dec2) == pytest.approx(expected, abs=1e-11)


@pytest.mark.parametrize("dec_deg", [-89.9, -45.0, 0.0, 30.0, 89.99])
@pytest.mark.parametrize("offset_mas", [0.1, 1.0, 10.0])
def test_tiny_separations_keep_relative_precision(dec_deg, offset_mas):
    offset_deg = offset_mas / 3.6e6
    along_dec = angular_separation_deg(10.0, dec_deg, 10.0, dec_deg + offset_deg)
    assert along_dec == pytest.approx(offset_deg, rel=1e-6)
    # Along RA the separation is offset * cos(dec) for tiny offsets.
    along_ra = angular_separation_deg(10.0, dec_deg, 10.0 + offset_deg, dec_deg)
    assert along_ra == pytest.approx(offset_deg * np.cos(np.radians(dec_deg)), rel=1e-6)


def test_kernel_matches_reference():
    rng = np.random.default_rng(7)
    n = 100_000
    ra1, ra2 = rng.uniform(0, 360, n), rng.uniform(0, 360, n)
    dec1 = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    dec2 = np.clip(dec1 + rng.normal(0, 1e-3, n), -90, 90)
    kernel = load("angsep").angular_separation_deg(ra1, dec1, ra2, dec2)
    np.testing.assert_allclose(kernel, angular_separation_deg(ra1, dec1, ra2, dec2), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize(
    "ra, dec, message",
    [
        ([1.0, np.nan], [0.0, 0.0], "index 1: ra_deg=nan"),
        ([360.5], [0.0], "index 0: ra_deg=360.5 is not in [0, 360]"),
        ([1.0, 2.0, 3.0], [0.0, 0.0, -90.01], "index 2: dec_deg=-90.01 is not in [-90, 90]"),
        ([-1.0], [np.inf], "ra_deg=-1.0 is not in [0, 360]; dec_deg=inf"),
    ],
)
def test_invalid_positions_name_index_and_value(ra, dec, message):
    with pytest.raises(InvalidCoordinatesError, match=re.escape(message)):
        validate_positions(ra, dec)


def test_vectors_round_trip():
    rng = np.random.default_rng(3)
    ra, dec = rng.uniform(0, 360, 1000), rng.uniform(-90, 90, 1000)
    back_ra, back_dec = vectors_to_radec(unit_vectors(ra, dec))
    np.testing.assert_allclose(angular_separation_deg(ra, dec, back_ra, back_dec), 0, atol=1e-12)
