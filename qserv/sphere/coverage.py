"""Coarse coverage: the HEALPix pixels (chunks or sub-chunks) a region may touch.

Coverage is conservative: a pixel holding any point inside the region is always returned;
a few pixels that only come close may be returned too. Rows are then filtered with the region's
fine predicate (never trust coverage to filter rows).
"""

from qserv.lazy import healpy
import numpy as np

from qserv.sphere.circle import Circle
from qserv.sphere.pixels import (
    bounding_radius_rad,
    check_order,
    children,
    nside_of,
    parents,
    pixel_centres,
)

# healpy's inclusive query_disc tests overlap at this many times the resolution.
INCLUSIVE_FACT = 4
# Radius margin (radians) added for circles so that float rounding never drops an edge pixel.
CIRCLE_MARGIN_RAD = 1e-11


def coverage(region, order):
    """Sorted int64 array of nested pixel ids at ``order`` that may hold points of ``region``."""
    order = check_order(order)
    if isinstance(region, Circle):
        return _circle_coverage(region, order)
    return _refined_coverage(region, order)


def chunk_and_subchunk_coverage(region, chunk_order, subchunk_order):
    """(chunk ids, sub-chunk ids): sub-chunks at ``subchunk_order`` that may hold points of the
    region, and the chunks holding them."""
    subchunks = coverage(region, subchunk_order)
    chunks = np.unique(parents(subchunks, subchunk_order - chunk_order))
    return chunks, subchunks


def _circle_coverage(circle, order):
    radius = np.radians(circle.radius_deg) + CIRCLE_MARGIN_RAD
    if radius >= np.pi:
        return np.arange(12 << (2 * order), dtype=np.int64)
    pixels = healpy.query_disc(
        nside_of(order), circle.centre, radius, inclusive=True, fact=INCLUSIVE_FACT, nest=True
    )
    return np.sort(pixels.astype(np.int64))


def _refined_coverage(region, order):
    """Walk the nested hierarchy from order 0, keeping pixels whose bounding cap may touch."""
    pixels = np.arange(12, dtype=np.int64)
    for level in range(order + 1):
        keep = region.cap_may_intersect(pixel_centres(level, pixels), bounding_radius_rad(level))
        pixels = pixels[keep]
        if level < order:
            pixels = children(pixels)
    return pixels
