"""Circle (cone) regions: ADQL CIRCLE, qserv_areaspec_circle, scisql_s2PtInCircle."""

import numpy as np

from qserv.errors import InvalidRegionError
from qserv.sphere.angles import unit_vectors, validate_positions
from qserv.sphere.region import CAP_MARGIN_RAD, Region


def chord_squared(angle_rad):
    """Squared chord length of an angle: comparing chords keeps tiny angles precise."""
    return (2.0 * np.sin(0.5 * np.minimum(angle_rad, np.pi))) ** 2


class Circle(Region):
    """All points within ``radius_deg`` (great-circle distance) of a centre, boundary included."""

    def __init__(self, ra_deg, dec_deg, radius_deg):
        validate_positions(ra_deg, dec_deg, what="circle centre")
        radius = float(radius_deg)
        if not 0.0 <= radius <= 180.0:
            raise InvalidRegionError(f"circle radius must be in [0, 180] degrees, got {radius_deg!r}")
        self.ra_deg, self.dec_deg, self.radius_deg = float(ra_deg), float(dec_deg), radius
        self.centre = unit_vectors(self.ra_deg, self.dec_deg)
        self._chord2_limit = float(chord_squared(np.radians(radius)))

    def __repr__(self):
        return f"Circle(ra_deg={self.ra_deg}, dec_deg={self.dec_deg}, radius_deg={self.radius_deg})"

    def _kernel_contains(self, regions_kernels, ra, dec):
        x, y, z = self.centre
        return regions_kernels.points_in_circle(ra, dec, x, y, z, self._chord2_limit)

    def contains_reference(self, ra_deg, dec_deg):
        points = unit_vectors(*validate_positions(ra_deg, dec_deg))
        offsets = points - self.centre
        distance2 = offsets[:, 0] ** 2 + offsets[:, 1] ** 2 + offsets[:, 2] ** 2
        return distance2 <= self._chord2_limit

    def cap_may_intersect(self, centres, radius_rad):
        reach = np.radians(self.radius_deg) + np.asarray(radius_rad) + CAP_MARGIN_RAD
        distance2 = np.sum((np.asarray(centres) - self.centre) ** 2, axis=-1)
        return (reach >= np.pi) | (distance2 <= chord_squared(reach))

    def bounding_cap(self):
        return self.centre, np.radians(self.radius_deg)
