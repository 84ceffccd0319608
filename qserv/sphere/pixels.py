"""HEALPix nested pixel geometry used by coverage and overlap: bounding radii and edge bounds.

Measured facts the code relies on (re-checked in tests/sphere/test_pixels.py):
- the point of a pixel farthest from its centre is a corner, so healpy's ``max_pixrad`` bounds
  the distance from a pixel centre to any point of the pixel;
- a pixel edge is not a great circle; its deviation from the great-circle chord between its end
  corners is below ``EDGE_DEVIATION_FACTOR * max_pixrad**2 / max(sin(theta), max_pixrad)``,
  theta being the polar angle of the end corner nearest a pole (edges bend most near the poles).
"""

from qserv.lazy import healpy
import numpy as np

MAX_ORDER = 24
# Measured maximum of deviation * sin(theta) / max_pixrad**2 is 0.147 (orders 4-8); doubled.
EDGE_DEVIATION_FACTOR = 0.3
# Relative slack on the pixel bounding radius, so that rounding never loses a pixel.
BOUNDING_RADIUS_SLACK = 1e-9


def check_order(order, what="order"):
    """Validate a HEALPix order (0..MAX_ORDER) and return it as int."""
    from qserv.errors import InvalidPartitioningError

    if isinstance(order, bool) or not isinstance(order, (int, np.integer)):
        raise InvalidPartitioningError(f"{what} must be an integer, got {order!r}")
    if not 0 <= order <= MAX_ORDER:
        raise InvalidPartitioningError(f"{what} must be between 0 and {MAX_ORDER}, got {order}")
    return int(order)


def nside_of(order):
    return 1 << order


def pixel_count(order):
    return 12 << (2 * order)


def bounding_radius_rad(order):
    """Radius of a cap around any pixel centre that contains the whole pixel."""
    return healpy.max_pixrad(nside_of(order)) * (1.0 + BOUNDING_RADIUS_SLACK) + 1e-15


def resolution_deg(order):
    """Square root of the pixel area, in degrees."""
    return float(np.degrees(healpy.nside2resol(nside_of(order))))


def pixel_centres(order, pixels):
    """Unit vectors (N, 3) of the centres of nested pixels."""
    return np.stack(healpy.pix2vec(nside_of(order), np.asarray(pixels, dtype=np.int64), nest=True), axis=-1)


def children(pixels, levels=1):
    """Nested ids of the descendants ``levels`` orders finer, sorted when ``pixels`` is sorted."""
    pixels = np.asarray(pixels, dtype=np.int64)
    fan_out = 1 << (2 * levels)
    return (pixels[:, None] * fan_out + np.arange(fan_out, dtype=np.int64)).ravel()


def parents(pixels, levels):
    """Nested ids of the ancestors ``levels`` orders coarser."""
    return np.asarray(pixels, dtype=np.int64) >> (2 * levels)
