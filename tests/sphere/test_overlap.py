"""Chunk / sub-chunk assignment with overlap: kernel vs reference, and completeness by brute force."""

import healpy
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qserv.errors import InvalidCoordinatesError
from qserv.sphere.angles import angular_separation_deg, unit_vectors, vectors_to_radec
from qserv.sphere.chunking import ChunkGrid, max_overlap_arcsec
from qserv.sphere import overlap
from qserv.sphere.overlap import assign_points, assign_reference, split_levels
from qserv.sphere.pixels import EDGE_DEVIATION_FACTOR, bounding_radius_rad

GRIDS = [
    ChunkGrid(7, 10, 60.0),
    ChunkGrid(3, 6, 0.45 * 3600 * 0.9161),  # large overlap relative to sub-chunks (resolution ~0.92 deg)
    ChunkGrid(0, 2, 3600.0),  # every sub-chunk touches a base-face edge: all on the reference path
    ChunkGrid(4, 4, 600.0),  # chunks are sub-chunks
    ChunkGrid(4, 4, 60.0),  # as ingest computes chunk overlap at a coarse order: edges split in 16
]
# Base-face corners and the poles, where HEALPix pixels are most distorted.
SPECIAL_CENTRES = [(0.0, 90.0), (0.0, -90.0), (0.0, 0.0), (45.0, 0.0), (90.0, 41.8103149),
                   (135.0, 41.8103149), (0.0, -41.8103149), (359.9999, 10.0), (180.0, 66.0)]


def pairs_as_set(points, cells):
    return set(zip(points.tolist(), cells.tolist()))


def sample_points(rng, n):
    """Uniform points, points on the poles, RA 0/360 and on exact sub-chunk corners."""
    ra = rng.uniform(0, 360, n)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    ra[:4], dec[:4] = [0.0, 360.0, 123.0, 0.0], [90.0, -90.0, 0.0, 0.0]
    return ra, dec


def corner_points(order, count, rng):
    pixels = rng.integers(0, 12 << (2 * order), count)
    corners = np.moveaxis(healpy.boundaries(1 << order, pixels, step=1, nest=True), 1, 2).reshape(-1, 3)
    return vectors_to_radec(corners)


@pytest.mark.parametrize("grid", GRIDS, ids=str)
def test_kernel_agrees_with_reference(grid):
    rng = np.random.default_rng(11)
    ra, dec = sample_points(rng, 60_000)
    corner_ra, corner_dec = corner_points(grid.subchunk_order, 500, rng)
    ra, dec = np.concatenate([ra, corner_ra]), np.concatenate([dec, corner_dec])
    kernel, reference = assign_points(ra, dec, grid), assign_reference(ra, dec, grid)
    assert np.array_equal(kernel.subchunk_ids, reference.subchunk_ids)
    assert np.array_equal(kernel.chunk_ids, reference.chunk_ids)
    kernel_pairs = pairs_as_set(kernel.overlap_points, kernel.overlap_subchunks)
    reference_pairs = pairs_as_set(reference.overlap_points, reference.overlap_subchunks)
    # Rounding may only differ for points exactly on a threshold; random points never are.
    assert len(kernel_pairs ^ reference_pairs) <= 2
    assert len(kernel_pairs) > 0.01 * len(ra)


def test_own_cells_match_healpy():
    rng = np.random.default_rng(5)
    ra, dec = sample_points(rng, 200_000)
    grid = ChunkGrid(6, 11, 30)
    result = assign_points(ra, dec, grid)
    assert np.array_equal(result.subchunk_ids, healpy.ang2pix(2048, ra, dec, nest=True, lonlat=True))
    assert np.array_equal(result.chunk_ids, healpy.ang2pix(64, ra, dec, nest=True, lonlat=True))


@pytest.mark.parametrize("assign", [assign_points, assign_reference])
@pytest.mark.parametrize("bad_ra, bad_dec", [(np.nan, 0.0), (10.0, np.nan), (-0.5, 0.0),
                                            (360.01, 1.0), (1.0, 90.5), (np.inf, -91.0)])
def test_invalid_coordinates_are_rejected_not_assigned(assign, bad_ra, bad_dec):
    ra = np.linspace(0, 359, 1000)
    dec = np.linspace(-89, 89, 1000)
    ra[700], dec[700] = bad_ra, bad_dec
    with pytest.raises(InvalidCoordinatesError, match="at index 700"):
        assign(ra, dec, ChunkGrid())


def test_batches_report_the_first_bad_index():
    n = 600_000
    ra, dec = np.full(n, 10.0), np.zeros(n)
    ra[[450_000, 599_999]] = np.nan
    with pytest.raises(InvalidCoordinatesError, match="at index 450000"):
        assign_points(ra, dec, ChunkGrid())


def dense_points_around(centre_ra, centre_dec, radius_deg, n, rng):
    """n random points uniformly in a cap, as (ra, dec)."""
    centre = unit_vectors(centre_ra, centre_dec)
    helper = np.array([1.0, 0.0, 0.0]) if abs(centre[2]) > 0.9 else np.array([0.0, 0.0, 1.0])
    east = np.cross(helper, centre)
    east /= np.linalg.norm(east)
    north = np.cross(centre, east)
    cos_max = np.cos(np.radians(radius_deg))
    cos_t = rng.uniform(cos_max, 1.0, n)
    sin_t = np.sqrt(1 - cos_t**2)
    azimuth = rng.uniform(0, 2 * np.pi, n)
    vectors = (cos_t[:, None] * centre + sin_t[:, None] * (np.cos(azimuth)[:, None] * east
                                                           + np.sin(azimuth)[:, None] * north))
    ra, dec = vectors_to_radec(vectors)
    return np.clip(ra, 0, 360), np.clip(dec, -90, 90)


def close_pairs(ra, dec, radius_deg):
    """All ordered pairs (i, j), i != j, closer than radius, by brute force."""
    vectors = unit_vectors(ra, dec)
    i, j = np.nonzero(vectors @ vectors.T >= np.cos(np.radians(radius_deg)) - 1e-9)
    keep = i != j
    i, j = i[keep], j[keep]
    close = angular_separation_deg(ra[i], dec[i], ra[j], dec[j]) < radius_deg
    return i[close], j[close]


centres = st.one_of(
    st.sampled_from(SPECIAL_CENTRES),
    st.tuples(st.floats(0, 360), st.floats(-90, 90)),
)


@pytest.mark.parametrize("grid", [ChunkGrid(7, 10, 60.0), ChunkGrid(4, 7, 0.49 * 0.458 * 3600),
                                  ChunkGrid(2, 2, 7000.0), ChunkGrid(4, 4, 60.0)], ids=str)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(centre=centres, seed=st.integers(0, 2**32 - 1))
def test_every_close_pair_shares_a_chunk_and_a_subchunk_with_overlap(grid, centre, seed):
    rng = np.random.default_rng(seed)
    radius_deg = grid.overlap_arcsec / 3600
    ra, dec = dense_points_around(*centre, 4 * radius_deg, 1500, rng)
    result = assign_points(ra, dec, grid)
    first, second = close_pairs(ra, dec, radius_deg)
    assert len(first) > 0
    sub_pairs = pairs_as_set(result.overlap_points, result.overlap_subchunks)
    chunk_pairs = pairs_as_set(*result.chunk_overlap(grid))
    for a, b in zip(first.tolist(), second.tolist()):
        own_sub, own_chunk = result.subchunk_ids[b], result.chunk_ids[b]
        assert result.subchunk_ids[a] == own_sub or (a, own_sub) in sub_pairs, (a, b)
        assert result.chunk_ids[a] == own_chunk or (a, own_chunk) in chunk_pairs, (a, b)


def test_overlap_rows_are_not_far_from_their_subchunk():
    """Overlap is conservative but tight: no row is listed much beyond the radius."""
    grid = ChunkGrid(7, 10, 60.0)
    rng = np.random.default_rng(2)
    ra, dec = sample_points(rng, 20_000)
    result = assign_points(ra, dec, grid)
    nside = 1 << grid.subchunk_order
    boundary = np.moveaxis(healpy.boundaries(nside, result.overlap_subchunks, step=64, nest=True), 1, 2)
    points = unit_vectors(ra[result.overlap_points], dec[result.overlap_points])
    nearest = np.arccos(np.clip(np.einsum("nk,npk->np", points, boundary).max(axis=1), -1, 1))
    sampling_slack = bounding_radius_rad(grid.subchunk_order) * 2 / 64
    assert np.degrees(nearest).max() * 3600 <= 60.0 * 1.25 + np.degrees(sampling_slack) * 3600
    # Points in the overlap of a foreign chunk are in the overlap of one of its sub-chunks.
    points, chunks = result.chunk_overlap(grid)
    assert np.all(chunks != result.chunk_ids[points])


def test_overlap_zero_means_no_overlap_rows():
    rng = np.random.default_rng(4)
    ra, dec = sample_points(rng, 1000)
    result = assign_points(ra, dec, ChunkGrid(7, 10, 0.0))
    assert len(result.overlap_points) == 0


def test_max_overlap_grid_is_accepted():
    ChunkGrid(7, 10, max_overlap_arcsec(10))


# -- tightness: stored chunk overlap against the exact set, by brute force -------------------------

COARSE_SAMPLES = 128  # boundary samples per edge for the candidate filter


def boundary_distances(points, order, pixels, samples_per_edge):
    """(distance, spacing): the smallest angle (radians) from each point to samples of the
    boundary of its pixel, and the largest angle between consecutive samples of that boundary.
    The samples lie on the true boundary, so distance - spacing / 2 <= true distance <= distance."""
    distance, spacing = np.empty(len(points)), np.empty(len(points))
    batch = max(1, 2_000_000 // (4 * samples_per_edge))
    for start in range(0, len(points), batch):
        stop = min(start + batch, len(points))
        samples = np.moveaxis(healpy.boundaries(1 << order, pixels[start:stop], step=samples_per_edge, nest=True), 1, 2)
        samples = samples.reshape(stop - start, -1, 3)
        cosines = np.einsum("nk,npk->np", points[start:stop], samples).max(axis=1)
        distance[start:stop] = np.arccos(np.clip(cosines, -1, 1))
        steps = np.einsum("npk,npk->np", samples, np.roll(samples, 1, axis=1)).min(axis=1)
        spacing[start:stop] = np.arccos(np.clip(steps, -1, 1))
    return distance, spacing


def exact_chunk_overlap(ra, dec, order, radius_rad):
    """Set of (point, chunk) pairs, chunk not the point's own, with the point surely within the
    radius of the chunk: boundary sampled finely (true distance <= sampled distance < radius).
    Candidates are the 8 neighbours of the own chunk (nothing else is within half a resolution),
    for points within the radius of their own chunk's boundary (the way out to any other chunk)."""
    nside = 1 << order
    points = unit_vectors(ra, dec)
    own = healpy.ang2pix(nside, ra, dec, nest=True, lonlat=True)
    distance, spacing = boundary_distances(points, order, own, COARSE_SAMPLES)
    near = np.flatnonzero(distance - spacing / 2 < radius_rad)
    neighbours = healpy.get_all_neighbours(nside, own[near], nest=True).T
    index, column = np.nonzero(neighbours >= 0)
    point, chunk = near[index], neighbours[index, column]
    distance, spacing = boundary_distances(points[point], order, chunk, COARSE_SAMPLES)
    keep = distance - spacing / 2 < radius_rad
    point, chunk = point[keep], chunk[keep]
    fine_samples = 1 << (16 - order)  # about 3 arcsec apart
    distance, _ = boundary_distances(points[point], order, chunk, fine_samples)
    within = distance < radius_rad
    return pairs_as_set(point[within], chunk[within])


# Stored overlap rows / exact overlap rows allowed. Away from the poles a row is stored when it is
# within r + w of a piece of an edge, w <= WIDENING_PER_RADIUS * r (5%); pixels near the poles (w
# grows as 1 / sin(theta)) and corners add a little: measured 1.02-1.03 at orders 2, 4, 5 and 7
# (8.8x at order 4 and 1.12x at order 7 before edges were split).
TIGHTNESS_BOUND = 1.15


@pytest.mark.parametrize("order, points", [(4, 60_000), (7, 20_000)])
def test_chunk_overlap_is_complete_and_tight(order, points):
    """The chunk overlap as ingest computes it (the chunk grid itself) holds every row within the
    radius of another chunk, and not many more."""
    grid = ChunkGrid(order, order, 60.0)
    ra, dec = sample_points(np.random.default_rng(order), points)
    stored = pairs_as_set(*assign_points(ra, dec, grid).chunk_overlap(grid))
    exact = exact_chunk_overlap(ra, dec, order, grid.overlap_rad)
    assert len(exact) > 500
    assert exact <= stored, sorted(exact - stored)[:5]
    assert len(stored) / len(exact) < TIGHTNESS_BOUND


@pytest.mark.parametrize("order", [0, 2, 4, 5, 7, 10])
@pytest.mark.parametrize("overlap_arcsec", [1.0, 60.0, 600.0])
def test_edges_are_split_just_enough(order, overlap_arcsec):
    radius = np.radians(overlap_arcsec / 3600)
    levels = split_levels(order, radius)

    def widening(extra):
        return EDGE_DEVIATION_FACTOR * bounding_radius_rad(order + extra) ** 2

    assert 0 <= levels <= overlap.MAX_SPLIT_LEVELS
    assert levels == overlap.MAX_SPLIT_LEVELS or widening(levels) <= overlap.WIDENING_PER_RADIUS * radius
    assert levels == 0 or widening(levels - 1) > overlap.WIDENING_PER_RADIUS * radius
    assert split_levels(order, 0.0) == 0
