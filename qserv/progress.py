"""Progress shown on a terminal (issue 13, item 10): counters the engine updates, and the bars the
CLI draws from them with tqdm on stderr, only when stderr is a terminal.

- ``ChunkProgress``: chunks read of chunks to read by a query. The dispatcher calls ``planned(n)``
  for each set of worker statements it starts and ``done(n)`` as each statement returns;
  ``on_change(done, total)`` is called after each. Thread-safe.
- ``expected_rows(paths)``: the rows ingest input files hold, known up front for Parquet (from its
  metadata) and estimated for uncompressed text (file size times the lines per byte of its first
  MiB); None when any file gives no figure (then the bar shows a count and a rate, no ETA).
- ``query_bar()`` / ``ingest_bar()``: the callbacks that drive the bars, or None off a terminal.
"""

import os
import sys
import threading
import time

QUERY_BAR_DELAY_S = 2.0  # a query shows its bar only when it runs longer than this
SAMPLE_BYTES = 1 << 20
TEXT_FORMATS = {".csv", ".tsv", ".txt", ".mysql", ".dump"}


class ChunkProgress:
    def __init__(self, on_change=None):
        self.total = self.finished = 0
        self._on_change = on_change
        self._lock = threading.Lock()

    def planned(self, chunks):
        self._add(chunks, 0)

    def done(self, chunks):
        self._add(0, chunks)

    def _add(self, total, finished):
        with self._lock:
            self.total += total
            self.finished += finished
            state = (self.finished, self.total)
        if self._on_change is not None:
            self._on_change(*state)


def expected_rows(paths):
    """Rows in ``paths`` (ingest inputs): exact for Parquet, estimated for uncompressed text with a
    header line (CSV/TSV) or without (MySQL dumps), None if any file cannot be estimated."""
    total = 0
    for path in paths:
        rows = _file_rows(os.fspath(path))
        if rows is None:
            return None
        total += rows
    return total


def _file_rows(path):
    extension = os.path.splitext(path)[1].lower()
    try:
        if extension in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            return pq.ParquetFile(path).metadata.num_rows
        if extension not in TEXT_FORMATS:
            return None  # compressed or unknown: the reader will say what is wrong
        size = os.path.getsize(path)
        with open(path, "rb") as file:
            sample = file.read(SAMPLE_BYTES)
    except (OSError, ValueError):
        return None  # unreadable: the reader reports it properly
    lines = sample.count(b"\n") + (not sample.endswith(b"\n") and bool(sample))
    if len(sample) == size:
        estimate = lines
    else:
        estimate = round(lines * size / len(sample)) if lines else None
    if estimate is None:
        return None
    return max(0, estimate - (extension != ".mysql" and extension != ".dump"))  # the header


def _terminal():
    return sys.stderr.isatty()


class _DelayedBar:
    """A tqdm bar of chunks on stderr, created once the query has run QUERY_BAR_DELAY_S."""

    def __init__(self, description):
        self._description, self._started, self._bar = description, time.monotonic(), None
        self._lock = threading.Lock()

    def __call__(self, done, total):
        with self._lock:
            if self._bar is None:
                if time.monotonic() - self._started < QUERY_BAR_DELAY_S:
                    return
                from tqdm import tqdm

                self._bar = tqdm(total=total, unit=" chunks", desc=self._description, file=sys.stderr,
                                 leave=False)
            self._bar.total = total
            self._bar.n = done
            self._bar.refresh()

    def close(self):
        with self._lock:
            if self._bar is not None:
                self._bar.close()


def query_bar():
    """(ChunkProgress, close) for a query on a terminal, else (None, a no-op)."""
    if not _terminal():
        return None, lambda: None
    bar = _DelayedBar("chunks")
    return ChunkProgress(bar), bar.close


def ingest_bar(description, paths):
    """(rows callback, commit callback, close) drawing a bar of rows on a terminal (total and ETA
    when ``expected_rows`` knows the rows), else (None, None, a no-op)."""
    if not _terminal():
        return None, None, lambda: None
    from tqdm import tqdm

    bar = tqdm(total=expected_rows(paths), unit=" rows", unit_scale=True, desc=description, file=sys.stderr)

    def committing():
        bar.set_postfix_str("committing")

    def close():
        if bar.total is not None and bar.n > bar.total:  # an estimate fell short
            bar.total = bar.n
        bar.close()

    return bar.update, committing, close
