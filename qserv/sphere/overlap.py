"""Assignment of points to chunk + sub-chunk with overlap membership.

``assign_points`` runs the compiled kernel (cython_ext/partition.pyx) over batches in threads;
``assign_reference`` is the numpy + healpy reference with the same rule. The rule: a point is in
the overlap of a neighbouring sub-chunk when it is within the overlap radius of one of its
corners or edges. An edge is near when P is within the radius of the great-circle chord between
its corners widened by the bound of ``qserv.sphere.pixels`` on how far a true HEALPix edge strays
from its chord and, at coarse orders where that bound is large against the radius, also of one
of the chords of its 2**levels pieces (the edges of the pixels ``levels`` orders finer lying
along it) widened by the finer order's bound, which is 4**levels times smaller
(``split_levels``). Every point within the overlap radius of a sub-chunk is therefore in its
overlap; a few points slightly farther may be too, which costs a little storage and never a
missed pair.
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from qserv.lazy import healpy
import numpy as np

from qserv import kernels
from qserv.sphere.angles import invalid_position_error, position_arrays, unit_vectors, validate_positions
from qserv.sphere.pixels import EDGE_DEVIATION_FACTOR, MAX_ORDER, bounding_radius_rad, nside_of

BATCH_POINTS = 1 << 16
NEEDS_REFERENCE = -2
NEIGHBOURS = 8
# Edges are split until the widening (away from the poles) is at most this part of the radius.
WIDENING_PER_RADIUS = 0.05
MAX_SPLIT_LEVELS = 6


@dataclass
class PointAssignment:
    """Where points go. ``overlap_points[k]`` is in the overlap of ``overlap_subchunks[k]``
    (pairs in no particular order; a point's own sub-chunk is never listed)."""

    chunk_ids: np.ndarray
    subchunk_ids: np.ndarray
    overlap_points: np.ndarray
    overlap_subchunks: np.ndarray

    def chunk_overlap(self, grid):
        """(points, chunks): the chunks other than its own whose overlap holds each point,
        sorted by point."""
        chunks = grid.chunk_of_subchunk(self.overlap_subchunks)
        foreign = chunks != self.chunk_ids[self.overlap_points]
        keys = np.unique(self.overlap_points[foreign] * grid.chunk_count + chunks[foreign])
        return keys // grid.chunk_count, keys % grid.chunk_count


def assign_points(ra_deg, dec_deg, grid, threads=2):
    """Assign points (degrees) to ``grid`` with the compiled kernel."""
    partition = kernels.load("partition")
    ra, dec = position_arrays(ra_deg, dec_deg)
    n = len(ra)
    chunk = np.empty(n, dtype=np.int64)
    subchunk = np.empty(n, dtype=np.int64)
    pixrad = bounding_radius_rad(grid.subchunk_order)
    levels = split_levels(grid.subchunk_order, grid.overlap_rad)
    fine_pixrad = bounding_radius_rad(grid.subchunk_order + levels)

    def run(start):
        stop = min(start + BATCH_POINTS, n)
        overlap = np.empty((stop - start, NEIGHBOURS), dtype=np.int64)
        bad = partition.assign_points(
            ra[start:stop], dec[start:stop], grid.chunk_order, grid.subchunk_order,
            grid.overlap_rad, pixrad, EDGE_DEVIATION_FACTOR, levels, fine_pixrad,
            chunk[start:stop], subchunk[start:stop], overlap,
        )
        if bad >= 0:
            return start + bad, None, None
        fallback = np.flatnonzero(overlap[:, 0] == NEEDS_REFERENCE) + start
        return -1, partition.collect_overlap(overlap, start), fallback

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        results = list(pool.map(run, range(0, n, BATCH_POINTS)))
    bad = [index for index, _, _ in results if index >= 0]
    if bad:
        raise invalid_position_error(ra, dec, bad[0])
    points = [pairs[0] for _, pairs, _ in results]
    subchunks = [pairs[1] for _, pairs, _ in results]
    fallback = np.concatenate([indices for _, _, indices in results] or [np.empty(0, np.int64)])
    if len(fallback):
        ref_points, ref_subchunks = _overlap_reference(ra[fallback], dec[fallback], subchunk[fallback], grid)
        points.append(fallback[ref_points])
        subchunks.append(ref_subchunks)
    return PointAssignment(chunk, subchunk, *_concatenated(points, subchunks))


def assign_reference(ra_deg, dec_deg, grid):
    """Numpy + healpy reference of ``assign_points``."""
    ra, dec = validate_positions(ra_deg, dec_deg)
    subchunk = healpy.ang2pix(nside_of(grid.subchunk_order), ra, dec, nest=True, lonlat=True)
    subchunk = subchunk.astype(np.int64)
    chunk = grid.chunk_of_subchunk(subchunk)
    points, subchunks = _overlap_reference(ra, dec, subchunk, grid)
    return PointAssignment(chunk, subchunk, points, subchunks)


def split_levels(order, overlap_rad):
    """Orders finer than ``order`` at which pixel edges are tested piecewise: the fewest (at most
    MAX_SPLIT_LEVELS) that bring the widening at the equator to WIDENING_PER_RADIUS of the radius."""
    levels = 0
    while (overlap_rad > 0.0 and levels < MAX_SPLIT_LEVELS and order + levels < MAX_ORDER
           and EDGE_DEVIATION_FACTOR * bounding_radius_rad(order + levels) ** 2 > WIDENING_PER_RADIUS * overlap_rad):
        levels += 1
    return levels


def _concatenated(points, subchunks):
    if not points:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(points).astype(np.int64), np.concatenate(subchunks).astype(np.int64)


def _overlap_reference(ra, dec, own_subchunks, grid):
    """(point index, neighbouring sub-chunk) pairs for the overlap rule, with healpy."""
    if grid.overlap_arcsec <= 0.0 or len(ra) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    nside = nside_of(grid.subchunk_order)
    levels = split_levels(grid.subchunk_order, grid.overlap_rad)
    pixrads = bounding_radius_rad(grid.subchunk_order), bounding_radius_rad(grid.subchunk_order + levels)
    points = unit_vectors(ra, dec)
    own_corners = _edges(nside, own_subchunks, 1)[:, :, 0]
    neighbours = healpy.get_all_neighbours(nside, own_subchunks, nest=True).T
    found_points, found_subchunks = [], []
    for column in range(neighbours.shape[1]):
        candidate = neighbours[:, column]
        valid = np.flatnonzero(candidate >= 0)
        near = _near_pixel(points[valid], nside, candidate[valid], own_corners[valid], grid.overlap_rad,
                           levels, pixrads)
        found_points.append(valid[near])
        found_subchunks.append(candidate[valid][near])
    pairs = np.unique(np.stack([np.concatenate(found_points), np.concatenate(found_subchunks)], axis=1), axis=0)
    return pairs[:, 0], pairs[:, 1]


def _edges(nside, pixels, pieces):
    """(N, 4, pieces + 1, 3): each edge of nested pixels as points on it from one corner to the
    next, in boundary order; [:, :, 0] are the corners."""
    boundary = np.moveaxis(healpy.boundaries(nside, pixels, step=pieces, nest=True), -1, -2)
    boundary = boundary.reshape(len(pixels), 4 * pieces, 3)
    closed = np.concatenate([boundary, boundary[:, :1]], axis=1)
    starts = np.arange(4)[:, None] * pieces + np.arange(pieces + 1)
    return closed[:, starts]


def _near_pixel(points, nside, pixels, own_corners, overlap_rad, levels, pixrads):
    """Is each point within the overlap radius of its neighbouring pixel?

    Only the pixel's features that touch the point's own pixel are tested (its corners shared
    with the own pixel, and its edges from such a corner): any other feature borders a pixel
    outside the 8 neighbours, farther than the overlap radius (see chunking.py). An edge is near
    when its chord is, at the order's widening, and (split edges) the chord of one of its pieces
    is, at the finer order's widening.
    """
    corners = _edges(nside, pixels, 1)[:, :, 0]
    shared = np.any(np.all(np.abs(corners[:, :, None, :] - own_corners[:, None, :, :]) < 1e-12, axis=-1), axis=-1)
    cos_r = np.cos(overlap_rad) - 1e-15
    near = np.any(shared & (np.einsum("nk,nck->nc", points, corners) >= cos_r), axis=1)
    for k in range(4):
        rows = np.flatnonzero(~near & (shared[:, k] | shared[:, (k + 1) % 4]))
        rows = rows[_near_chord(points[rows], corners[rows, k], corners[rows, (k + 1) % 4], overlap_rad, cos_r,
                                pixrads[0])]
        if levels and len(rows):
            pieces = _edges(nside, pixels[rows], 1 << levels)[:, k]
            fine = np.zeros(len(rows), dtype=bool)
            for j in range(pieces.shape[1] - 1):
                fine |= _near_chord(points[rows], pieces[:, j], pieces[:, j + 1], overlap_rad, cos_r, pixrads[1])
            rows = rows[fine]
        near[rows] = True
    return near


def _near_chord(p, a, b, overlap_rad, cos_r, pixrad):
    """P within r of the chord a-b widened by the edge bound of pixels of radius ``pixrad``
    (arc, or end corners)."""
    normal = np.cross(a, b)
    sin_polar = np.maximum(np.minimum(np.sqrt((1 - a[:, 2]) * (1 + a[:, 2])),
                                      np.sqrt((1 - b[:, 2]) * (1 + b[:, 2]))), pixrad)
    widening = EDGE_DEVIATION_FACTOR * pixrad**2 / sin_polar
    height = np.einsum("nk,nk->n", p, normal)
    close = height**2 <= (np.sin(overlap_rad) + widening) ** 2 * np.einsum("nk,nk->n", normal, normal)
    along = (np.einsum("nk,nk->n", p, np.cross(normal, a)) >= 0) & (
        np.einsum("nk,nk->n", p, np.cross(b, normal)) >= 0
    )
    cos_widened = cos_r * (1 - 0.5 * widening**2) - np.sin(overlap_rad) * widening  # <= cos(r + w)
    beyond_end = (np.einsum("nk,nk->n", p, a) >= cos_widened) | (np.einsum("nk,nk->n", p, b) >= cos_widened)
    return close & (along | beyond_end)
