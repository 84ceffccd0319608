"""The partitioning of a database: HEALPix nested chunks, finer sub-chunks, an overlap radius.

Chunk ids are nested pixel ids at ``chunk_order``; sub-chunk ids are nested pixel ids at
``subchunk_order`` (global, not local to their chunk), so a sub-chunk's chunk is
``subchunk >> 2 * (subchunk_order - chunk_order)``.
"""

from dataclasses import dataclass

from qserv.lazy import healpy
import numpy as np

from qserv.errors import InvalidPartitioningError
from qserv.sphere.angles import ARCSEC_PER_DEG, validate_positions
from qserv.sphere.pixels import check_order, nside_of, parents, pixel_count, resolution_deg

DEFAULT_CHUNK_ORDER = 7
DEFAULT_SUBCHUNK_ORDER = 10
DEFAULT_OVERLAP_ARCSEC = 60.0
# Overlap candidates are the 8 neighbours of a point's own sub-chunk. Any pixel outside that ring
# is at least 0.68 resolutions away (measured at orders 3-5), so the overlap radius is capped at
# half a sub-chunk resolution.
MAX_OVERLAP_PER_RESOLUTION = 0.5


def max_overlap_arcsec(subchunk_order):
    """Largest overlap radius a sub-chunk order supports."""
    return MAX_OVERLAP_PER_RESOLUTION * resolution_deg(subchunk_order) * ARCSEC_PER_DEG


@dataclass(frozen=True)
class ChunkGrid:
    """Chunk order, sub-chunk order and overlap radius of one database."""

    chunk_order: int = DEFAULT_CHUNK_ORDER
    subchunk_order: int = DEFAULT_SUBCHUNK_ORDER
    overlap_arcsec: float = DEFAULT_OVERLAP_ARCSEC

    def __post_init__(self):
        check_order(self.chunk_order, "chunk order")
        check_order(self.subchunk_order, "sub-chunk order")
        if self.subchunk_order < self.chunk_order:
            raise InvalidPartitioningError(
                f"sub-chunk order ({self.subchunk_order}) must not be below the chunk order "
                f"({self.chunk_order})"
            )
        overlap = float(self.overlap_arcsec)
        if not overlap >= 0.0:
            raise InvalidPartitioningError(f"overlap must be >= 0 arcsec, got {self.overlap_arcsec!r}")
        limit = max_overlap_arcsec(self.subchunk_order)
        if overlap > limit:
            raise InvalidPartitioningError(
                f"overlap of {overlap:g} arcsec is too large for sub-chunk order "
                f"{self.subchunk_order} (at most {limit:.1f} arcsec); use a coarser sub-chunk order"
            )
        object.__setattr__(self, "overlap_arcsec", overlap)

    @property
    def levels_between(self):
        """Number of orders from chunks down to sub-chunks."""
        return self.subchunk_order - self.chunk_order

    @property
    def chunk_count(self):
        return pixel_count(self.chunk_order)

    @property
    def overlap_rad(self):
        return np.radians(self.overlap_arcsec / ARCSEC_PER_DEG)

    def chunk_of_subchunk(self, subchunk_ids):
        return parents(subchunk_ids, self.levels_between)

    def chunk_ids(self, ra_deg, dec_deg):
        """Chunk id of each position (healpy, no overlap)."""
        return self._pixels(self.chunk_order, ra_deg, dec_deg)

    def subchunk_ids(self, ra_deg, dec_deg):
        """Sub-chunk id of each position (healpy, no overlap)."""
        return self._pixels(self.subchunk_order, ra_deg, dec_deg)

    @staticmethod
    def _pixels(order, ra_deg, dec_deg):
        ra, dec = validate_positions(ra_deg, dec_deg)
        return healpy.ang2pix(nside_of(order), ra, dec, nest=True, lonlat=True).astype(np.int64)
