"""The interface every sky region implements (circle, box, polygon, ellipse).

A region answers two questions:
- ``contains(ra_deg, dec_deg)``: the fine predicate over numpy arrays of rows, boundary included,
  computed by the compiled kernels of ``cython_ext/regions.pyx``; ``contains_reference`` is the
  numpy implementation of the same maths, which the tests hold the kernels to;
- ``cap_may_intersect(centres, radius_rad)``: a conservative test used for coverage — it may say
  True for a cap that misses the region, but never False for one that touches it.
Coverage (``qserv.sphere.coverage``) is built from the second, so it never misses a chunk.

Both predicates refuse NaN and out-of-range positions with ``InvalidCoordinatesError`` naming the
first offending index, rather than answer for them.
"""

import math
from abc import ABC, abstractmethod

from qserv import kernels
from qserv.errors import InvalidRegionError
from qserv.sphere.angles import position_arrays

# Absolute slack (radians) added to exact distances in cap tests, so rounding never loses a cap.
CAP_MARGIN_RAD = 1e-11


def finite_parameter(value, name):
    """``value`` as a float, or InvalidRegionError naming the parameter (e.g. "box width_deg")."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidRegionError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise InvalidRegionError(f"{name} must be finite, got {value!r}")
    return number


class Region(ABC):
    """A closed region of the sky with a fine predicate and a conservative cap test."""

    def contains(self, ra_deg, dec_deg):
        """Boolean array: which positions (degrees, numpy arrays) lie inside the region.

        Runs the compiled kernel, which refuses invalid positions itself.
        """
        ra, dec = position_arrays(ra_deg, dec_deg)
        return self._kernel_contains(kernels.load("regions"), ra, dec)

    @abstractmethod
    def _kernel_contains(self, regions_kernels, ra, dec):
        """Call this region's kernel from ``qserv._ext.regions`` on contiguous float64 arrays."""

    @abstractmethod
    def contains_reference(self, ra_deg, dec_deg):
        """The numpy reference of ``contains`` (same maths, same answers, same errors)."""

    @abstractmethod
    def cap_may_intersect(self, centres, radius_rad):
        """Boolean array over caps (unit-vector centres (N, 3), radius in radians: a scalar or
        one per cap): False only where the cap certainly does not touch the region."""

    def bounding_cap(self):
        """(centre unit vector, radius_rad) of a cap containing the region, or None if the
        region is too large for a useful one. Used to start coverage at a fine order."""
        return None
