"""Storage conventions shared by ingest, the workers, the director index and the query path (pure).

- Physical names: a catalog table is stored on every worker as ``<database>__<table>``; its
  director index (in the instance's index file) as ``idx_<database>__<table>``.
- System columns: every stored row carries SYSTEM_COLUMNS after the user's columns.
- Visible rows: a row is visible when the transaction that wrote it is not hidden
  (``HiddenTransactions``: not committed when the reader started, or begun after it started;
  ``qserv.ingest.transactions``) and, in a table with row deletion on, no transaction the reader
  sees marked it deleted (``_qserv_deleted``; ``qserv.ingest.deletes``); a query reads a sharded table's own rows, not the overlap
  copies, unless it asks for them (the near-neighbour partner).
- Buckets of non-spatial partitioning: a ``time`` table stores a row in chunk
  ``floor(MJD / bucket_days)``, a ``hash`` table in chunk ``stable_hash(key) % bucket_count``.
"""

import hashlib
import math

import numpy as np
import pyarrow as pa

CHUNK_COLUMN = "_qserv_chunk"
TXN_COLUMN = "_qserv_txn"
OVERLAP_COLUMN = "_qserv_overlap"
DELETED_COLUMN = "_qserv_deleted"

# (name, canonical datatype) of the columns qserv adds to every stored row, in order.
SYSTEM_COLUMNS = (
    (CHUNK_COLUMN, "long"),        # chunk id (HEALPix pixel, time bucket or hash bucket); -1 if none
    ("_qserv_subchunk", "long"),   # sub-chunk id (nested pixel at the sub-chunk order); -1 if none
    (OVERLAP_COLUMN, "boolean"),   # true for a copy stored in the overlap of another (sub-)chunk
    (TXN_COLUMN, "long"),          # super-transaction that wrote the row
    ("_qserv_contrib", "long"),    # contribution that wrote the row (for retries)
    (DELETED_COLUMN, "long"),      # transaction that deleted the row; NULL while it is not deleted
)
NULLABLE_SYSTEM_COLUMNS = frozenset({DELETED_COLUMN})


def quote(identifier):
    """An identifier in double quotes (as both DuckDB and PostgreSQL read them)."""
    return '"' + identifier.replace('"', '""') + '"'


def physical_table_name(database, table):
    return f"{database}__{table}"


def index_table_name(database, table):
    """The director index table of a director table."""
    return f"idx_{physical_table_name(database, table)}"


class HiddenTransactions(frozenset):
    """The transactions whose rows a reader must not see: the ids in the set (not committed when
    the reader started) and, when ``newest`` is given, every id above it (transactions begun after
    the reader started, whose rows may arrive while it reads)."""

    def __new__(cls, ids=(), newest=None):
        hidden = super().__new__(cls, ids)
        hidden.newest = None if newest is None else int(newest)
        return hidden


def visible_condition(hidden_transactions, column=quote(TXN_COLUMN)):
    """SQL condition true for the rows of ``column`` (a transaction id) not written by the
    ``hidden_transactions`` (ints, or a HiddenTransactions); ``TRUE`` when none is hidden."""
    conditions = []
    newest = getattr(hidden_transactions, "newest", None)
    if newest is not None:
        conditions.append(f"{column} <= {newest}")
    if hidden_transactions:
        conditions.append(f"{column} NOT IN ({', '.join(str(int(t)) for t in sorted(hidden_transactions))})")
    return " AND ".join(conditions) or "TRUE"


def live_condition(hidden_transactions, column=quote(DELETED_COLUMN)):
    """SQL condition true for the rows not deleted as a reader with ``hidden_transactions`` sees
    them: never marked, or marked by a transaction it does not see (pending, aborted while being
    cleaned up, or newer than the reader)."""
    alternatives = [f"{column} IS NULL"]
    newest = getattr(hidden_transactions, "newest", None)
    if newest is not None:
        alternatives.append(f"{column} > {newest}")
    if hidden_transactions:
        alternatives.append(f"{column} IN ({', '.join(str(int(t)) for t in sorted(hidden_transactions))})")
    return f"({' OR '.join(alternatives)})"


def visible_live_condition(hidden_transactions):
    """The visible-rows condition of a table whose rows may be deleted (``TableInfo.row_deletes``)."""
    return f"{visible_condition(hidden_transactions)} AND {live_condition(hidden_transactions)}"


OWN_ROWS_CONDITION = f"NOT {quote(OVERLAP_COLUMN)}"  # not an overlap copy


def time_buckets(mjd, bucket_days):
    """The chunk (int64) of each MJD (days, a float64 array) in a time table."""
    return np.floor(mjd / bucket_days).astype(np.int64)


def time_bucket(mjd, bucket_days):
    """The chunk of one MJD (a Python number; an int however large, for query bounds)."""
    return math.floor(mjd / bucket_days)


def hash_buckets(keys, bucket_count):
    """The chunk (int64) of each key (a pyarrow integer or string array) in a hash table."""
    return stable_hash(keys) % bucket_count


def stable_hash(column):
    """Non-negative int64 hashes of an integer or string column, stable across processes."""
    if pa.types.is_integer(column.type):
        value = column.to_numpy(zero_copy_only=False).astype(np.uint64)
        # splitmix64 finaliser
        value = (value + np.uint64(0x9E3779B97F4A7C15))
        value = (value ^ (value >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        value = (value ^ (value >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        value = value ^ (value >> np.uint64(31))
        return (value >> np.uint64(1)).astype(np.int64)
    values = column.to_pylist()
    unique, inverse = np.unique(np.asarray([str(v) for v in values], dtype=object), return_inverse=True)
    digests = np.array([int.from_bytes(hashlib.blake2b(v.encode(), digest_size=8).digest(), "little") >> 1
                        for v in unique], dtype=np.int64)
    return digests[inverse]
