"""Ellipse regions: scisql_s2PtInEllipse, qserv_areaspec_ellipse."""

import numpy as np

from qserv.errors import InvalidRegionError
from qserv.sphere.angles import ARCSEC_PER_DEG, unit_vectors, validate_positions
from qserv.sphere.circle import Circle
from qserv.sphere.region import Region, finite_parameter

MAX_SEMI_MAJOR_ARCSEC = 10.0 * ARCSEC_PER_DEG


class Ellipse(Region):
    """An ellipse on the sky, boundary included.

    The major axis makes ``position_angle_deg`` with north, measured east of north. A point P is
    inside when it lies on the hemisphere centred on the ellipse's centre and, in orthographic
    projection onto the tangent plane there, its coordinates (u, v) along the major and minor axes
    satisfy (u / sin a)^2 + (v / sin b)^2 <= 1, a and b being the semi-axes. Then
    sin(distance from the centre)^2 = u^2 + v^2 <= sin(a)^2, so the circle of radius a around the
    centre holds the whole ellipse; the cap test uses it. At a pole, north is taken along the
    meridian of RA + 180 deg at the north pole (RA itself at the south pole), as for astropy's
    position angles.
    """

    def __init__(self, ra_deg, dec_deg, semi_major_arcsec, semi_minor_arcsec, position_angle_deg):
        validate_positions(ra_deg, dec_deg, what="ellipse centre")
        semi_major = finite_parameter(semi_major_arcsec, "ellipse semi_major_arcsec")
        semi_minor = finite_parameter(semi_minor_arcsec, "ellipse semi_minor_arcsec")
        position_angle = finite_parameter(position_angle_deg, "ellipse position_angle_deg")
        if not 0.0 < semi_minor <= semi_major <= MAX_SEMI_MAJOR_ARCSEC:
            raise InvalidRegionError(
                f"ellipse semi-axes must satisfy 0 < semi_minor_arcsec <= semi_major_arcsec <= "
                f"{MAX_SEMI_MAJOR_ARCSEC:g}, got semi_major_arcsec={semi_major_arcsec!r}, "
                f"semi_minor_arcsec={semi_minor_arcsec!r}"
            )
        self.ra_deg, self.dec_deg = float(ra_deg), float(dec_deg)
        self.semi_major_arcsec, self.semi_minor_arcsec = semi_major, semi_minor
        self.position_angle_deg = position_angle
        self._bounding_circle = Circle(self.ra_deg, self.dec_deg, semi_major / ARCSEC_PER_DEG)
        ra, dec, angle = np.radians([self.ra_deg, self.dec_deg, position_angle])
        north = np.array([-np.sin(dec) * np.cos(ra), -np.sin(dec) * np.sin(ra), np.cos(dec)])
        east = np.array([-np.sin(ra), np.cos(ra), 0.0])
        # Rows: centre, major-axis direction, minor-axis direction (unit vectors).
        self._axes = np.stack([
            self._bounding_circle.centre,
            np.cos(angle) * north + np.sin(angle) * east,
            np.cos(angle) * east - np.sin(angle) * north,
        ])
        semi_axes_rad = np.radians([semi_major, semi_minor]) / ARCSEC_PER_DEG
        self._inverse_sin_semi_axes = 1.0 / np.sin(semi_axes_rad)

    def __repr__(self):
        return (f"Ellipse(ra_deg={self.ra_deg}, dec_deg={self.dec_deg}, "
                f"semi_major_arcsec={self.semi_major_arcsec}, "
                f"semi_minor_arcsec={self.semi_minor_arcsec}, "
                f"position_angle_deg={self.position_angle_deg})")

    def _kernel_contains(self, regions_kernels, ra, dec):
        inverse_sin_a, inverse_sin_b = self._inverse_sin_semi_axes
        return regions_kernels.points_in_ellipse(ra, dec, self._axes, inverse_sin_a, inverse_sin_b)

    def contains_reference(self, ra_deg, dec_deg):
        points = unit_vectors(*validate_positions(ra_deg, dec_deg))
        towards, along_major, along_minor = (
            points[:, 0] * axis[0] + points[:, 1] * axis[1] + points[:, 2] * axis[2]
            for axis in self._axes
        )
        inverse_sin_a, inverse_sin_b = self._inverse_sin_semi_axes
        u, v = along_major * inverse_sin_a, along_minor * inverse_sin_b
        return (towards > 0.0) & (u * u + v * v <= 1.0)

    def cap_may_intersect(self, centres, radius_rad):
        return self._bounding_circle.cap_may_intersect(centres, radius_rad)

    def bounding_cap(self):
        return self._bounding_circle.bounding_cap()
