"""Chunk pruning for non-spatial partitioned tables (pure, no I/O).

- A ``time`` table stores a row in bucket ``floor(MJD / bucket_days)`` of its partition column (an
  MJD in days; timestamp columns are not pruned; the rules are ``qserv.storage``'s). Constant bounds on both sides (``BETWEEN``,
  ``>=``/``>``/``<=``/``<``, ``=``) as top-level WHERE conjuncts give a ``BucketRange``.
- A ``hash`` table stores a row in bucket ``stable_hash(key) % bucket_count``. ``key = constant``
  and ``key IN (constants)`` give the buckets of those values (``KeyRestriction`` rules), when the
  constants have the column's type (integers for an integer key, strings for a text key).

As everywhere, the conjuncts also stay in the query and filter the rows on the workers.
"""

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from sqlglot import exp

from qserv.query.conjuncts import identifier_matches, top_level_conjuncts
from qserv.query.director_keys import director_key_restrictions
from qserv.query.restrictors import FLIPPED, constant
from qserv.storage import hash_buckets as key_buckets, time_bucket

INTEGER_TYPES = ("byte", "short", "int", "long")
TEXT_TYPES = ("char", "string", "unicode", "text")
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


@dataclass(frozen=True)
class BucketRange:
    """Buckets ``low``..``high`` (inclusive) of a time table."""

    low: int
    high: int

    def select(self, chunks):
        chunks = np.asarray(chunks, np.int64)
        return chunks[(chunks >= self.low) & (chunks <= self.high)]


def _column_bound(node, alias, column):
    """(low, high) bounds a conjunct puts on ``alias.column`` (None for an open side), else None."""
    def is_target(candidate):
        qualifier = candidate.args.get("table") if isinstance(candidate, exp.Column) else None
        return (isinstance(candidate, exp.Column) and identifier_matches(candidate.this, column)
                and (qualifier is None or identifier_matches(qualifier, alias)))

    if isinstance(node, exp.Between) and is_target(node.this):
        low, high = constant(node.args["low"]), constant(node.args["high"])
        return None if low is None or high is None else (low, high)
    if type(node) in FLIPPED or isinstance(node, exp.EQ):
        kind, target, value = type(node), node.this, constant(node.expression)
        if not is_target(target):
            kind, target, value = FLIPPED.get(kind, kind), node.expression, constant(node.this)
        if not is_target(target) or value is None:
            return None
        if kind is exp.EQ:
            return value, value
        return (value, None) if kind in (exp.GT, exp.GTE) else (None, value)
    return None


def time_bucket_range(select, alias, info):
    """The BucketRange of ``alias`` (a time table) from the WHERE clause, or None."""
    where = select.args.get("where")
    if where is None or info.column(info.partition_column).datatype == "timestamp":
        return None
    low, high = -math.inf, math.inf
    for node in top_level_conjuncts(where.this):
        bound = _column_bound(node, alias, info.partition_column)
        if bound:
            low = low if bound[0] is None else max(low, bound[0])
            high = high if bound[1] is None else min(high, bound[1])
    if math.isinf(low) or math.isinf(high):
        return None
    if low > high:
        return BucketRange(0, -1)
    return BucketRange(time_bucket(low, info.bucket_days), time_bucket(high, info.bucket_days))


def typed_keys(values, datatype):
    """``values`` as a pyarrow array of the column's type, or None when they do not all have it.
    Integers beyond int64 are left out: no stored key equals them."""
    if datatype in INTEGER_TYPES and all(isinstance(v, int) for v in values):
        return pa.array(sorted(v for v in values if INT64_MIN <= v <= INT64_MAX), pa.int64())
    if datatype in TEXT_TYPES and all(isinstance(v, str) for v in values):
        return pa.array(sorted(values), pa.string())
    return None


def hash_buckets(select, alias, info):
    """Sorted buckets of ``alias`` (a hash table) its WHERE clause allows, or None."""
    restrictions = director_key_restrictions(select, {alias: info.partition_column})
    if not restrictions:
        return None
    keys = typed_keys(restrictions[0].values, info.column(info.partition_column).datatype)
    if keys is None:
        return None
    return np.unique(key_buckets(keys, info.bucket_count)) if len(keys) else np.empty(0, np.int64)
