"""Where each row of a batch is stored: chunk, sub-chunk and overlap copies, per table kind.

Pure functions over Arrow batches and numpy arrays; loading and the director index are elsewhere.
A placement is a ``Placement``: for every stored copy, the index of its source row, its chunk,
its sub-chunk and whether it is an overlap copy.
"""

from dataclasses import dataclass

from qserv.lazy import healpy
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from qserv.errors import InputError, InvalidCoordinatesError
from qserv.sphere.chunking import ChunkGrid
from qserv.sphere.overlap import assign_points
from qserv.sphere.pixels import nside_of
from qserv.storage import hash_buckets as key_buckets, time_buckets as mjd_buckets

NO_CHUNK = -1
MJD_EPOCH = np.datetime64("1858-11-17T00:00:00", "us")
MICROSECONDS_PER_DAY = 86_400_000_000


@dataclass
class Placement:
    rows: np.ndarray  # source row index of each stored copy
    chunks: np.ndarray
    subchunks: np.ndarray
    overlap: np.ndarray  # bool

    @classmethod
    def one_copy_each(cls, chunks, subchunks=None):
        n = len(chunks)
        subchunks = np.full(n, NO_CHUNK, np.int64) if subchunks is None else subchunks
        return cls(np.arange(n, dtype=np.int64), np.asarray(chunks, np.int64),
                   np.asarray(subchunks, np.int64), np.zeros(n, dtype=bool))


def positions(batch, ra_column, dec_column, where):
    """RA/Dec columns as float64 arrays; NULLs are an error naming the row."""
    arrays = []
    for name in (ra_column, dec_column):
        column = batch.column(name)
        if column.null_count:
            row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
            raise InputError(where.source, "position is NULL", row=where.row(row), column=name)
        arrays.append(column.to_numpy(zero_copy_only=False).astype(np.float64, copy=False))
    return arrays


def spatial(batch, ra_column, dec_column, grid, where, with_overlap=True):
    """Rows placed by their own position; with overlap copies for director tables.

    A row gets one overlap copy per other chunk whose overlap holds it (not one per sub-chunk as
    in Qserv): the copy keeps the row's own sub-chunk id, so near-neighbour work can still tell
    sub-chunks apart, and the storage cost stays near 1.2 copies per row instead of 2.5. The
    overlap is computed on the chunk grid itself, where most rows are far from any edge.
    """
    ra, dec = positions(batch, ra_column, dec_column, where)
    chunk_grid = ChunkGrid(grid.chunk_order, grid.chunk_order, grid.overlap_arcsec if with_overlap else 0.0)
    try:
        assignment = assign_points(ra, dec, chunk_grid)
    except InvalidCoordinatesError as exc:
        raise InputError(where.source, "; ".join(exc.problems), row=where.row(exc.index),
                         column=(ra_column, dec_column)) from None
    subchunks = healpy.ang2pix(nside_of(grid.subchunk_order), ra, dec, nest=True, lonlat=True).astype(np.int64)
    own = Placement.one_copy_each(assignment.chunk_ids, subchunks)
    points, chunks = assignment.overlap_points, assignment.overlap_subchunks
    if len(points) == 0:
        return own
    return Placement(
        np.concatenate([own.rows, points]),
        np.concatenate([own.chunks, chunks]),
        np.concatenate([own.subchunks, subchunks[points]]),
        np.concatenate([own.overlap, np.ones(len(points), dtype=bool)]),
    )


def time_buckets(batch, column_name, bucket_days, where):
    """Chunk = floor(MJD / bucket_days) of a timestamp or an MJD (days) column."""
    column = batch.column(column_name)
    if column.null_count:
        row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
        raise InputError(where.source, "partition time is NULL", row=where.row(row), column=column_name)
    if pa.types.is_timestamp(column.type):
        micros = pc.cast(column, pa.timestamp("us")).to_numpy(zero_copy_only=False).astype("datetime64[us]")
        mjd = (micros - MJD_EPOCH).astype(np.int64) / MICROSECONDS_PER_DAY
    else:
        mjd = column.to_numpy(zero_copy_only=False).astype(np.float64)
        bad = ~np.isfinite(mjd)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(where.source, f"partition time {mjd[row]!r} is not finite", row=where.row(row),
                             column=column_name)
    return Placement.one_copy_each(mjd_buckets(mjd, bucket_days))


def hash_buckets(batch, column_name, bucket_count, where):
    """Chunk = a stable hash of the key modulo bucket_count (same in every process)."""
    column = batch.column(column_name)
    if column.null_count:
        row = int(np.flatnonzero(column.is_null().to_numpy(zero_copy_only=False))[0])
        raise InputError(where.source, "hash key is NULL", row=where.row(row), column=column_name)
    return Placement.one_copy_each(key_buckets(column, bucket_count))


def with_system_columns(batch, placement, transaction_id, contribution_id, subset=None):
    """The stored rows: source rows taken per placement (only the copies at positions
    ``subset`` when given), then the system columns."""
    take = (lambda values: values) if subset is None else (lambda values: values[subset])
    rows = batch.take(pa.array(take(placement.rows)))
    n = len(rows)
    system = {
        "_qserv_chunk": pa.array(take(placement.chunks), pa.int64()),
        "_qserv_subchunk": pa.array(take(placement.subchunks), pa.int64()),
        "_qserv_overlap": pa.array(take(placement.overlap), pa.bool_()),
        "_qserv_txn": pa.array(np.full(n, transaction_id, np.int64)),
        "_qserv_contrib": pa.array(np.full(n, contribution_id, np.int64)),
        "_qserv_deleted": pa.nulls(n, pa.int64()),
    }
    columns = list(rows.columns) + list(system.values())
    names = rows.schema.names + list(system)
    return pa.Table.from_arrays(columns, names=names)
