"""Assignment of points to chunk + sub-chunk with overlap membership.

``assign_points`` runs the compiled kernel (cython_ext/partition.pyx) over batches in threads;
``assign_reference`` is the numpy + healpy reference with the same rule. The rule: a point is in
the overlap of a neighbouring sub-chunk when it is within the overlap radius of one of its
corners or edges (each edge taken as the great-circle chord between its corners, widened by the
bound of ``qserv.sphere.pixels`` on how far a true HEALPix edge strays from its chord). Every
point within the overlap radius of a sub-chunk is therefore in its overlap; a few points
slightly farther may be too, which costs a little storage and never a missed pair.
"""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import healpy
import numpy as np

from qserv import kernels
from qserv.sphere.angles import invalid_position_error, unit_vectors, validate_positions, as_float_array
from qserv.sphere.pixels import EDGE_DEVIATION_FACTOR, bounding_radius_rad, nside_of

BATCH_POINTS = 1 << 18
NEEDS_REFERENCE = -2
NEIGHBOURS = 8


@dataclass
class PointAssignment:
    """Where points go. ``overlap_points[k]`` is in the overlap of ``overlap_subchunks[k]``
    (pairs in no particular order; a point's own sub-chunk is never listed)."""

    chunk_ids: np.ndarray
    subchunk_ids: np.ndarray
    overlap_points: np.ndarray
    overlap_subchunks: np.ndarray

    def chunk_overlap(self, grid):
        """(points, chunks): the chunks other than its own whose overlap holds each point."""
        chunks = grid.chunk_of_subchunk(self.overlap_subchunks)
        foreign = chunks != self.chunk_ids[self.overlap_points]
        pairs = np.unique(np.stack([self.overlap_points[foreign], chunks[foreign]], axis=1), axis=0)
        return pairs[:, 0], pairs[:, 1]


def assign_points(ra_deg, dec_deg, grid, threads=2):
    """Assign points (degrees) to ``grid`` with the compiled kernel."""
    partition = kernels.load("partition")
    ra = as_float_array(ra_deg, "ra_deg")
    dec = as_float_array(dec_deg, "dec_deg")
    if ra.shape != dec.shape:
        validate_positions(ra, dec)
    n = len(ra)
    chunk = np.empty(n, dtype=np.int64)
    subchunk = np.empty(n, dtype=np.int64)
    pixrad = bounding_radius_rad(grid.subchunk_order)

    def run(start):
        stop = min(start + BATCH_POINTS, n)
        overlap = np.empty((stop - start, NEIGHBOURS), dtype=np.int64)
        bad = partition.assign_points(
            ra[start:stop], dec[start:stop], grid.chunk_order, grid.subchunk_order,
            grid.overlap_rad, pixrad, EDGE_DEVIATION_FACTOR,
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


def _concatenated(points, subchunks):
    if not points:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(points).astype(np.int64), np.concatenate(subchunks).astype(np.int64)


def _overlap_reference(ra, dec, own_subchunks, grid):
    """(point index, neighbouring sub-chunk) pairs for the overlap rule, with healpy."""
    if grid.overlap_arcsec <= 0.0 or len(ra) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    nside = nside_of(grid.subchunk_order)
    pixrad = bounding_radius_rad(grid.subchunk_order)
    points = unit_vectors(ra, dec)
    neighbours = healpy.get_all_neighbours(nside, own_subchunks, nest=True).T
    found_points, found_subchunks = [], []
    for column in range(neighbours.shape[1]):
        candidate = neighbours[:, column]
        valid = np.flatnonzero(candidate >= 0)
        corners = np.moveaxis(healpy.boundaries(nside, candidate[valid], step=1, nest=True), -1, -2)
        corners = corners.reshape(len(valid), 4, 3)
        near = _near_pixel(points[valid], corners, grid.overlap_rad, pixrad)
        found_points.append(valid[near])
        found_subchunks.append(candidate[valid][near])
    points_idx = np.concatenate(found_points)
    subchunks = np.concatenate(found_subchunks)
    pairs = np.unique(np.stack([points_idx, subchunks], axis=1), axis=0)
    return pairs[:, 0], pairs[:, 1]


def _near_pixel(points, corners, overlap_rad, pixrad):
    """Is each point within the overlap radius of the pixel with these 4 corners (N, 4, 3)?"""
    cos_r = np.cos(overlap_rad) - 1e-15
    near = np.any(np.einsum("nk,nck->nc", points, corners) >= cos_r, axis=1)
    for k in range(4):
        near |= _near_edge(points, corners[:, k], corners[:, (k + 1) % 4], overlap_rad, pixrad)
    return near


def _near_edge(p, a, b, overlap_rad, pixrad):
    normal = np.cross(a, b)
    along = (np.einsum("nk,nk->n", p, np.cross(normal, a)) >= 0) & (
        np.einsum("nk,nk->n", p, np.cross(b, normal)) >= 0
    )
    sin_polar = np.maximum(np.minimum(np.sqrt((1 - a[:, 2]) * (1 + a[:, 2])),
                                      np.sqrt((1 - b[:, 2]) * (1 + b[:, 2]))), pixrad)
    widened = np.sin(overlap_rad) + EDGE_DEVIATION_FACTOR * pixrad**2 / sin_polar
    height = np.einsum("nk,nk->n", p, normal)
    return along & (height**2 <= widened**2 * np.einsum("nk,nk->n", normal, normal))
