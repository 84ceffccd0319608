"""The measured HEALPix facts that coverage and overlap rely on (see qserv/sphere/pixels.py)."""

import healpy
import numpy as np
import pytest

from qserv.sphere.chunking import MAX_OVERLAP_PER_RESOLUTION
from qserv.sphere.pixels import EDGE_DEVIATION_FACTOR, bounding_radius_rad, children, parents, resolution_deg

SAMPLES_PER_EDGE = 16


def boundary_samples(order, pixels):
    """(N, 4 * SAMPLES_PER_EDGE, 3) points along each pixel's boundary, corners at multiples."""
    b = healpy.boundaries(1 << order, pixels, step=SAMPLES_PER_EDGE, nest=True)
    return np.moveaxis(np.atleast_3d(b).reshape(len(pixels), 3, -1), 1, 2)


@pytest.mark.parametrize("order", [0, 2, 4, 6])
def test_bounding_radius_contains_whole_pixel(order):
    pixels = np.arange(12 << (2 * order))
    centres = np.stack(healpy.pix2vec(1 << order, pixels, nest=True), -1)
    samples = boundary_samples(order, pixels)
    farthest = np.arccos(np.clip(np.einsum("nk,npk->np", centres, samples), -1, 1)).max(axis=1)
    assert farthest.max() <= bounding_radius_rad(order)


def some_pixels(order, count=200_000):
    """Every pixel of a coarse order; else a random sample and the pixels of the 8 rings nearest
    each pole (where edges bend most)."""
    nside = 1 << order
    total = 12 << (2 * order)
    if total <= count:
        return np.arange(total)
    polar_rings = np.arange(2 * 8 * (8 + 1))  # rings 1-8 hold 4, 8, ..., 32 pixels
    polar = healpy.ring2nest(nside, np.concatenate([polar_rings, total - 1 - polar_rings]))
    return np.unique(np.concatenate([np.random.default_rng(order).integers(0, total, count), polar]))


# Orders up to 10 + 6: overlap tests edges as pieces up to 6 orders finer (qserv.sphere.overlap).
@pytest.mark.parametrize("order", [3, 5, 7, 10, 13, 16])
def test_edges_stay_within_deviation_bound_of_their_chords(order):
    pixels = some_pixels(order)
    samples = boundary_samples(order, pixels)
    pixrad = bounding_radius_rad(order)
    for edge in range(4):
        first = samples[:, edge * SAMPLES_PER_EDGE]
        last = samples[:, ((edge + 1) * SAMPLES_PER_EDGE) % (4 * SAMPLES_PER_EDGE)]
        inner = samples[:, edge * SAMPLES_PER_EDGE + 1:(edge + 1) * SAMPLES_PER_EDGE]
        normal = np.cross(first, last)
        normal /= np.linalg.norm(normal, axis=1, keepdims=True)
        deviation = np.abs(np.arcsin(np.einsum("nk,npk->np", normal, inner))).max(axis=1)
        sin_polar = np.maximum(np.minimum(np.hypot(first[:, 0], first[:, 1]),
                                          np.hypot(last[:, 0], last[:, 1])), pixrad)
        bound = EDGE_DEVIATION_FACTOR * pixrad**2 / sin_polar
        assert np.all(deviation <= bound)
        # The bound is meant to be tight within a factor of a few, not arbitrarily loose.
        assert deviation.max() >= bound.max() / 20


def test_pixels_beyond_the_neighbour_ring_are_farther_than_the_overlap_limit():
    order = 3
    nside = 1 << order
    pixels = np.arange(12 * nside**2)
    neighbours = healpy.get_all_neighbours(nside, pixels, nest=True).T
    samples = boundary_samples(order, pixels)
    closest = np.inf
    for pixel in pixels:
        ring1 = set(neighbours[pixel][neighbours[pixel] >= 0].tolist()) | {pixel}
        ring2 = set()
        for other in ring1:
            ring2 |= set(neighbours[other][neighbours[other] >= 0].tolist())
        outer = np.array(sorted(ring2 - ring1))
        dots = np.einsum("ik,qjk->qij", samples[pixel], samples[outer])
        closest = min(closest, np.arccos(np.clip(dots.max(), -1, 1)))
    assert np.degrees(closest) > 1.2 * MAX_OVERLAP_PER_RESOLUTION * resolution_deg(order)


def test_children_and_parents_are_inverse():
    pixels = np.array([0, 5, 767])
    assert np.array_equal(parents(children(pixels, 2), 2), np.repeat(pixels, 16))
