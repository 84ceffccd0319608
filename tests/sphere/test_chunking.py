import healpy
import numpy as np
import pytest

from qserv.errors import InvalidPartitioningError
from qserv.sphere.chunking import ChunkGrid, max_overlap_arcsec


def test_defaults_are_chunk_order_7_subchunk_order_10_overlap_1_arcmin():
    grid = ChunkGrid()
    assert (grid.chunk_order, grid.subchunk_order, grid.overlap_arcsec) == (7, 10, 60.0)
    assert grid.chunk_count == 12 * 4**7


def test_chunk_and_subchunk_ids_nest():
    rng = np.random.default_rng(0)
    ra, dec = rng.uniform(0, 360, 10_000), rng.uniform(-90, 90, 10_000)
    grid = ChunkGrid(5, 9, 30)
    chunks, subchunks = grid.chunk_ids(ra, dec), grid.subchunk_ids(ra, dec)
    assert np.array_equal(grid.chunk_of_subchunk(subchunks), chunks)
    assert np.array_equal(chunks, healpy.ang2pix(32, ra, dec, nest=True, lonlat=True))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(chunk_order=8, subchunk_order=7), "must not be below the chunk order"),
        (dict(chunk_order=-1), "chunk order must be between 0 and 24"),
        (dict(chunk_order=3.5), "chunk order must be an integer"),
        (dict(subchunk_order=25), "sub-chunk order must be between 0 and 24"),
        (dict(overlap_arcsec=-1), "overlap must be >= 0"),
        (dict(overlap_arcsec=float("nan")), "overlap must be >= 0"),
        (dict(subchunk_order=12, overlap_arcsec=60), "too large for sub-chunk order 12"),
    ],
)
def test_bad_partitioning_is_refused_clearly(kwargs, message):
    with pytest.raises(InvalidPartitioningError, match=message):
        ChunkGrid(**kwargs)


def test_overlap_limit_grows_with_coarser_subchunks():
    assert max_overlap_arcsec(10) > 60 > max_overlap_arcsec(12)
    assert max_overlap_arcsec(9) == pytest.approx(2 * max_overlap_arcsec(10), rel=1e-9)
