"""Angles and positions on the unit sphere: validation, unit vectors, angular separation.

These are the numpy reference implementations; ``qserv.kernels`` holds the compiled ones and the
tests check that both agree.
"""

import numpy as np

from qserv.errors import InvalidCoordinatesError

ARCSEC_PER_DEG = 3600.0


def as_float_array(values, name):
    """Return ``values`` as a contiguous 1-D float64 array (a scalar becomes length 1)."""
    array = np.ascontiguousarray(np.atleast_1d(np.asarray(values, dtype=np.float64)))
    if array.ndim != 1:
        raise InvalidCoordinatesError(f"{name} must be a scalar or a 1-D array, got shape {array.shape}")
    return array


def position_arrays(ra_deg, dec_deg):
    """``ra_deg``, ``dec_deg`` as contiguous float64 arrays of equal length (values unchecked)."""
    ra = as_float_array(ra_deg, "ra_deg")
    dec = as_float_array(dec_deg, "dec_deg")
    if ra.shape != dec.shape:
        raise InvalidCoordinatesError(
            f"ra_deg and dec_deg differ in length ({ra.shape[0]} vs {dec.shape[0]})"
        )
    return ra, dec


def validate_positions(ra_deg, dec_deg, what="position"):
    """Check RA in [0, 360] and Dec in [-90, 90], all finite; return them as float64 arrays.

    The error names the first offending index and value, so a loader can point at the row.
    """
    ra, dec = position_arrays(ra_deg, dec_deg)
    bad_ra = ~((ra >= 0.0) & (ra <= 360.0))  # also catches NaN
    bad_dec = ~((dec >= -90.0) & (dec <= 90.0))
    if bad_ra.any() or bad_dec.any():
        raise invalid_position_error(ra, dec, int(np.flatnonzero(bad_ra | bad_dec)[0]), what)
    return ra, dec


def invalid_position_error(ra, dec, index, what="position"):
    """The error for the invalid position at ``index`` (shared by the reference and the kernels)."""
    ra_value, dec_value = float(ra[index]), float(dec[index])
    problems = []
    if not (0.0 <= ra_value <= 360.0):
        problems.append(f"ra_deg={ra_value!r} is not in [0, 360]")
    if not (-90.0 <= dec_value <= 90.0):
        problems.append(f"dec_deg={dec_value!r} is not in [-90, 90]")
    error = InvalidCoordinatesError(f"invalid {what} at index {index}: " + "; ".join(problems))
    error.index = index
    error.problems = problems
    return error


def unit_vectors(ra_deg, dec_deg):
    """Unit vectors (N, 3) for positions in degrees."""
    ra = np.radians(np.asarray(ra_deg, dtype=np.float64))
    dec = np.radians(np.asarray(dec_deg, dtype=np.float64))
    cos_dec = np.cos(dec)
    return np.stack([cos_dec * np.cos(ra), cos_dec * np.sin(ra), np.sin(dec)], axis=-1)


def vectors_to_radec(vectors):
    """(ra_deg, dec_deg) of (N, 3) vectors (need not be normalised); RA in [0, 360)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    x, y, z = vectors[..., 0], vectors[..., 1], vectors[..., 2]
    ra = np.degrees(np.arctan2(y, x)) % 360.0
    dec = np.degrees(np.arctan2(z, np.hypot(x, y)))
    return ra, dec


def angular_separation_deg(ra1_deg, dec1_deg, ra2_deg, dec2_deg):
    """Great-circle distance in degrees, accurate from milliarcseconds to 180 degrees.

    Uses the atan2 form (Vincenty's special case for the sphere), which keeps full relative
    precision for tiny angles, where the arccos of a dot product loses it.
    """
    ra1, dec1, ra2, dec2 = (np.radians(np.asarray(v, dtype=np.float64)) for v in
                            (ra1_deg, dec1_deg, ra2_deg, dec2_deg))
    delta_ra = ra2 - ra1
    sin_dra, cos_dra = np.sin(delta_ra), np.cos(delta_ra)
    sin_d1, cos_d1 = np.sin(dec1), np.cos(dec1)
    sin_d2, cos_d2 = np.sin(dec2), np.cos(dec2)
    cross_a = cos_d2 * sin_dra
    cross_b = cos_d1 * sin_d2 - sin_d1 * cos_d2 * cos_dra
    dot = sin_d1 * sin_d2 + cos_d1 * cos_d2 * cos_dra
    return np.degrees(np.arctan2(np.hypot(cross_a, cross_b), dot))


def vector_separation_rad(u, v):
    """Angle in radians between (..., 3) vectors u and v (atan2 form, precise for tiny angles)."""
    cross = np.cross(u, v)
    return np.arctan2(np.linalg.norm(cross, axis=-1), np.sum(u * v, axis=-1))
