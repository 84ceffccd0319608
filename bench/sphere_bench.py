"""Sphere benchmarks (issue 2): point assignment with overlap, and coarse cone coverage."""

import time

import healpy
import numpy as np

from qserv.sphere.chunking import ChunkGrid
from qserv.sphere.circle import Circle
from qserv.sphere.coverage import coverage
from qserv.sphere.overlap import assign_points, assign_reference

ASSIGN_POINTS = 10_000_000
REFERENCE_POINTS = 1_000_000
REPEATS = 3


def random_sky(n, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 360, n), np.degrees(np.arcsin(rng.uniform(-1, 1, n)))


def median_seconds(run, repeats=REPEATS):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def bench_assignment():
    grid = ChunkGrid(chunk_order=7, subchunk_order=10, overlap_arcsec=60.0)
    ra, dec = random_sky(ASSIGN_POINTS, seed=1)
    kernel_s = median_seconds(lambda: assign_points(ra, dec, grid))
    reference_s = median_seconds(
        lambda: assign_reference(ra[:REFERENCE_POINTS], dec[:REFERENCE_POINTS], grid), repeats=1
    ) * (ASSIGN_POINTS / REFERENCE_POINTS)
    nside = 1 << grid.subchunk_order
    healpy_s = median_seconds(lambda: healpy.ang2pix(nside, ra, dec, nest=True, lonlat=True))
    overlap_rows = len(assign_points(ra[:REFERENCE_POINTS], dec[:REFERENCE_POINTS], grid).overlap_points)
    return [
        ("assign 1e7 points, chunk 7 / sub-chunk 10 / overlap 1 arcmin (kernel, 2 threads)",
         f"{kernel_s:.2f} s", f"{ASSIGN_POINTS / kernel_s / 1e6:.2f} M points/s (target >= 2)"),
        ("same, numpy + healpy reference (timed on 1e6, scaled)",
         f"{reference_s:.1f} s", f"kernel is {reference_s / kernel_s:.1f}x faster"),
        ("healpy ang2pix alone (own sub-chunk only, no overlap)",
         f"{healpy_s:.2f} s", f"kernel costs {kernel_s / healpy_s:.2f}x ang2pix"),
        ("overlap rows per point (sub-chunk overlap, 1 arcmin)",
         f"{overlap_rows / REFERENCE_POINTS:.2f}", ""),
    ]


def bench_coverage():
    rng = np.random.default_rng(3)
    circles = [Circle(ra, dec, 1.0) for ra, dec in zip(*random_sky(200, seed=4))]
    rng.shuffle(circles)
    timings = []
    for circle in circles:
        start = time.perf_counter()
        coverage(circle, 7)
        timings.append(time.perf_counter() - start)
    chunks = np.mean([len(coverage(c, 7)) for c in circles])
    p50 = np.median(timings) * 1e6
    return [("coarse coverage of a 1 deg cone at chunk order 7 (median of 200 cones)",
             f"{p50:.0f} us", f"target < 100 us; {chunks:.1f} chunks on average")]
