"""The summary `qserv chunks` and `qserv table stats` print (pure, no I/O; issue 13, item 11).

From ``Engine.chunks`` rows ``(chunk, rows, overlap_rows, [worker names])``: the number of chunks,
the rows and overlap copies, rows per chunk (min / median / max over the chunks holding rows of
their own) and, per worker, the chunks, rows and overlap rows it stores (a replica counts on each
worker holding it). For a table partitioned by position, a chunk size far from the rule of thumb
of ``qserv.sphere.sizing`` adds a warning.
"""

from dataclasses import dataclass

import numpy as np

SPATIAL_KINDS = ("director", "child")


@dataclass(frozen=True)
class ChunkSummary:
    chunks: int  # chunks with rows or overlap rows
    chunks_with_rows: int
    rows: int
    overlap_rows: int
    rows_per_chunk: tuple | None  # (min, median, max) over chunks_with_rows; None when none
    workers: dict  # worker name -> (chunks, rows, overlap rows)

    def lines(self):
        found = [f"chunks: {self.chunks} ({self.chunks_with_rows} with rows of their own)",
                 f"rows: {self.rows} (+ {self.overlap_rows} overlap copies)"]
        if self.rows_per_chunk is not None:
            low, median, high = self.rows_per_chunk
            found.append(f"rows per chunk: min {low}, median {median:g}, max {high}")
        if self.workers:
            found.append("worker\tchunks\trows\toverlap_rows")
            found += [f"{name}\t{chunks}\t{rows}\t{overlap}" for name, (chunks, rows, overlap)
                      in sorted(self.workers.items())]
        return found


def summarise(chunk_rows):
    """The ChunkSummary of ``Engine.chunks`` rows."""
    rows = np.array([r[1] for r in chunk_rows], dtype=np.int64)
    overlap = np.array([r[2] for r in chunk_rows], dtype=np.int64)
    own = rows[rows > 0]
    workers = {}
    for _, count, overlap_count, names in chunk_rows:
        for name in names:
            chunks, total, copies = workers.get(name, (0, 0, 0))
            workers[name] = (chunks + 1, total + int(count), copies + int(overlap_count))
    spread = (int(own.min()), float(np.median(own)), int(own.max())) if len(own) else None
    return ChunkSummary(len(chunk_rows), len(own), int(rows.sum()), int(overlap.sum()), spread, workers)


def size_warning(summary, kind, chunk_order):
    """The sizing rule's warning for a table of ``kind`` at ``chunk_order``, or None."""
    if kind not in SPATIAL_KINDS or summary.rows_per_chunk is None:
        return None
    from qserv.sphere.sizing import chunk_size_warning

    return chunk_size_warning(summary.rows_per_chunk[1], chunk_order)
