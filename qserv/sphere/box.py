"""RA/Dec boxes: qserv_areaspec_box, and ADQL BOX through ``Box.from_centre``."""

import numpy as np

from qserv.errors import InvalidRegionError
from qserv.sphere.angles import (
    unit_vectors,
    validate_positions,
    vector_separation_rad,
    vectors_to_radec,
)
from qserv.sphere.region import CAP_MARGIN_RAD, Region, finite_parameter


def _in_range(value, low, high, name):
    number = finite_parameter(value, f"box {name}")
    if not low <= number <= high:
        raise InvalidRegionError(f"box {name} must be in [{low:g}, {high:g}], got {value!r}")
    return number


class Box(Region):
    """Points with RA in [ra_min, ra_max] and Dec in [dec_min, dec_max], boundary included.

    Arguments are in qserv_areaspec_box order. The sides at ra_min and ra_max are meridians and
    the top and bottom are parallels (small circles of constant Dec). ``ra_min > ra_max`` means
    the box crosses RA 0/360 (350..10 is 20 degrees wide); ``ra_max - ra_min == 360`` is the full
    RA range. A box whose Dec range reaches a pole contains that pole (whatever its RA).
    """

    def __init__(self, ra_min_deg, dec_min_deg, ra_max_deg, dec_max_deg):
        ra_min = _in_range(ra_min_deg, 0.0, 360.0, "ra_min_deg")
        ra_max = _in_range(ra_max_deg, 0.0, 360.0, "ra_max_deg")
        dec_min = _in_range(dec_min_deg, -90.0, 90.0, "dec_min_deg")
        dec_max = _in_range(dec_max_deg, -90.0, 90.0, "dec_max_deg")
        if dec_min > dec_max:
            raise InvalidRegionError(
                f"box dec_min_deg ({dec_min_deg!r}) is greater than dec_max_deg ({dec_max_deg!r})"
            )
        self.ra_min_deg, self.dec_min_deg = ra_min, dec_min
        self.ra_max_deg, self.dec_max_deg = ra_max, dec_max
        self.full_ra = ra_max - ra_min == 360.0
        # Normalised to [0, 360): RA 360 is the meridian of RA 0.
        self._ra_low_deg, self._ra_high_deg = ra_min % 360.0, ra_max % 360.0

    @classmethod
    def from_centre(cls, ra_deg, dec_deg, width_deg, height_deg):
        """ADQL ``BOX(ra, dec, width, height)``, as a coordinate box.

        ADQL (after STC) describes a box whose sides are great circles meeting, at right
        angles, the ends of a cross centred on (ra, dec) with arms width and height long. This
        engine instead reads BOX as the same kind of RA/Dec box as qserv_areaspec_box: RA in
        ra ± width/2 and Dec in dec ± height/2 (width is a span of RA, not an on-sky length),
        Dec clipped at the poles, and a width of 360 means all RA. Small boxes near the equator
        agree with ADQL's; away from it this box is narrower on the sky by about cos(dec).
        """
        validate_positions(ra_deg, dec_deg, what="box centre")
        width = _in_range(width_deg, 0.0, 360.0, "width_deg")
        height = _in_range(height_deg, 0.0, 180.0, "height_deg")
        ra, dec = float(ra_deg), float(dec_deg)
        dec_min, dec_max = max(dec - 0.5 * height, -90.0), min(dec + 0.5 * height, 90.0)
        if width == 360.0:
            return cls(0.0, dec_min, 360.0, dec_max)
        return cls((ra - 0.5 * width) % 360.0, dec_min, (ra + 0.5 * width) % 360.0, dec_max)

    def __repr__(self):
        return (f"Box(ra_min_deg={self.ra_min_deg}, dec_min_deg={self.dec_min_deg}, "
                f"ra_max_deg={self.ra_max_deg}, dec_max_deg={self.dec_max_deg})")

    def _kernel_contains(self, regions_kernels, ra, dec):
        return regions_kernels.points_in_box(
            ra, dec, self._ra_low_deg, self._ra_high_deg, self.full_ra,
            self.dec_min_deg, self.dec_max_deg,
        )

    def contains_reference(self, ra_deg, dec_deg):
        return self._inside(*validate_positions(ra_deg, dec_deg))

    def _inside(self, ra, dec):
        in_dec = (dec >= self.dec_min_deg) & (dec <= self.dec_max_deg)
        return in_dec & (self._ra_in_range(ra) | (np.abs(dec) == 90.0))

    def _ra_in_range(self, ra):
        """Which (valid) RAs lie within the box's RA range."""
        if self.full_ra:
            return np.ones(ra.shape, dtype=bool)
        ra = np.where(ra == 360.0, 0.0, ra)
        low, high = self._ra_low_deg, self._ra_high_deg
        if low <= high:
            return (ra >= low) & (ra <= high)
        return (ra >= low) | (ra <= high)

    def distance_rad(self, vectors):
        """Exact great-circle distance (radians) from unit vectors (N, 3) to the box."""
        vectors = np.asarray(vectors, dtype=np.float64)
        ra, dec = vectors_to_radec(vectors)
        # Parallel sides: along the point's meridian when its RA is in range; otherwise the
        # nearest point is a corner, which the meridian sides below account for.
        to_parallels = np.radians(
            np.minimum(np.abs(dec - self.dec_min_deg), np.abs(dec - self.dec_max_deg)))
        distance = np.where(self._ra_in_range(ra), to_parallels, np.inf)
        if not self.full_ra:
            for side_ra in (self._ra_low_deg, self._ra_high_deg):
                distance = np.minimum(distance, self._meridian_side_distance_rad(vectors, side_ra))
        return np.where(self._inside(ra, dec), 0.0, distance)

    def _meridian_side_distance_rad(self, vectors, side_ra_deg):
        """Distance to the meridian arc at ``side_ra_deg`` from dec_min to dec_max."""
        side_ra = np.radians(side_ra_deg)
        in_plane = vectors[:, 0] * np.cos(side_ra) + vectors[:, 1] * np.sin(side_ra)
        off_plane = vectors[:, 1] * np.cos(side_ra) - vectors[:, 0] * np.sin(side_ra)
        # Dec of the nearest point of the full great circle (beyond +-90: the opposite meridian).
        foot_dec = np.degrees(np.arctan2(vectors[:, 2], in_plane))
        to_circle = np.arctan2(np.abs(off_plane), np.hypot(in_plane, vectors[:, 2]))
        ends = unit_vectors([side_ra_deg, side_ra_deg], [self.dec_min_deg, self.dec_max_deg])
        to_ends = np.minimum(vector_separation_rad(vectors, ends[0]),
                             vector_separation_rad(vectors, ends[1]))
        on_arc = (foot_dec >= self.dec_min_deg) & (foot_dec <= self.dec_max_deg)
        return np.where(on_arc, to_circle, to_ends)

    def cap_may_intersect(self, centres, radius_rad):
        return self.distance_rad(centres) <= radius_rad + CAP_MARGIN_RAD
