"""Fingerprints of query answers (pure): what the query log records so that a re-run can be
compared without keeping the rows.

- ``columns_of(table)``: the result's column names and Arrow types, as ``[[name, type], ...]``.
- ``answer_fingerprint(table)``: both, as the query log records them (``{"result_columns": ...,
  "checksum": ...}``); the query log's writer thread computes it after the answer is returned
  (``qserv.meta.log_writer``), so hashing a large answer never delays it.
- ``checksum(table)``: an order-independent checksum of the rows (16 hex digits). Each row hashes
  to 64 bits (its columns mixed in order); the checksum is the sum of the row hashes modulo 2**64,
  so row order does not matter and repeated rows count. Integers, booleans, strings, binaries,
  dates and times hash exactly (any integer width compares equal: 1 as int32 = 1 as int64);
  floating-point values (float16/32/64 and decimals, as float64) are first rounded to
  ``FLOAT_SIGNIFICANT_BITS`` (40) significant bits, about 12 decimal digits, so that a sum or an
  average computed in another order (other workers, another backend) compares equal (unless
  the two values fall on both sides of a rounding boundary, a chance of about 2**-28 for a
  last-bits difference); NULL, NaN and the infinities
  have their own hashes. Vectorised with numpy: a cone search's answer costs tens of microseconds.
"""

import hashlib
import logging

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

FLOAT_SIGNIFICANT_BITS = 40  # about 12 significant decimal digits

_NULL = np.uint64(0x6A09E667F3BCC908)
_NAN = np.uint64(0xBB67AE8584CAA73B)
_POS_INF = np.uint64(0x3C6EF372FE94F82B)
_NEG_INF = np.uint64(0xA54FF53A5F1D36F1)
_SEED = np.uint64(0x9E3779B97F4A7C15)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_ROW_FACTOR = np.uint64(31)
_MASK = (1 << 64) - 1
_EXPONENT_LOW = -1100  # frexp exponents of float64 lie in [-1073, 1024] (+1 on a rounding carry)


def columns_of(table):
    """[[name, Arrow type as text], ...] of a pyarrow Table or Schema."""
    schema = table.schema if isinstance(table, pa.Table) else table
    return [[field.name, str(field.type)] for field in schema]


def answer_fingerprint(table):
    """The result columns and row checksum of an answer for the query log; a failure is logged
    (the answer is right; only its log entry lacks a checksum) and gives {}."""
    try:
        return {"result_columns": columns_of(table), "checksum": checksum(table)}
    except Exception as error:  # noqa: BLE001
        logging.getLogger("qserv").warning("no fingerprint for a query's answer: %r", error)
        return {}


def _mix(value):
    """splitmix64 finaliser of a uint64 array (a bijection that spreads every input bit; uint64
    array arithmetic wraps around without warnings)."""
    value = (value ^ (value >> _S30)) * _M1
    value = (value ^ (value >> _S27)) * _M2
    return value ^ (value >> _S31)


# the hash of every float64 exponent (an index of -_EXPONENT_LOW + exponent): a look-up costs less
# than mixing the exponents of every value
_EXPONENT_WORDS = _mix(np.arange(_EXPONENT_LOW, -_EXPONENT_LOW, dtype=np.int32).astype(np.uint64) + _SEED)


def _float_words(values, bits=FLOAT_SIGNIFICANT_BITS):
    """uint64 hashes of float64 values rounded to ``bits`` significant bits: the binary
    mantissa and exponent (``numpy.frexp``) hashed together; NaN and the infinities apart."""
    finite = np.isfinite(values)
    everywhere = finite.all()
    mantissa, exponent = np.frexp(values if everywhere else np.where(finite, values, 0.0))
    rounded = np.rint(mantissa * 2.0 ** bits)  # exact: a power of two times a mantissa in [0.5, 1)
    carry = np.abs(rounded) == 2.0 ** bits  # 0.11..1 rounded up to 1.0: 0.5 of the next exponent
    rounded[carry] /= 2
    words = _mix(rounded.astype(np.int64).view(np.uint64) + _EXPONENT_WORDS[exponent + carry - _EXPONENT_LOW])
    if not everywhere:
        words = np.where(np.isnan(values), _NAN, words)
        words = np.where(values == np.inf, _POS_INF, words)
        words = np.where(values == -np.inf, _NEG_INF, words)
    return words


def _text_words(array):
    """uint64 hashes of a string or binary array: blake2b of each distinct value."""
    encoded = pc.dictionary_encode(array)
    digests = np.array([int.from_bytes(hashlib.blake2b(value if isinstance(value, bytes) else value.encode(),
                                                       digest_size=8).digest(), "little")
                        for value in encoded.dictionary.to_pylist()], dtype=np.uint64)
    return digests[encoded.indices.to_numpy(zero_copy_only=False)] if len(digests) else np.zeros(0, np.uint64)


def _numbers(array, kind):
    """The values of an array as numpy (NULLs as 0), without a copy when it has no NULLs."""
    if array.null_count:
        array = array.fill_null(pa.scalar(False if pa.types.is_boolean(kind) else 0, kind))
    return array.to_numpy(zero_copy_only=False)


def column_words(array):
    """One uint64 hash per value of a pyarrow Array (NULL -> its own hash)."""
    kind = array.type
    if pa.types.is_dictionary(kind):
        array = array.cast(kind.value_type)
        kind = array.type
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        if kind != pa.float64():
            array, kind = array.cast(pa.float64()), pa.float64()
        words = _float_words(_numbers(array, kind))
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        words = _text_words(array.fill_null("") if array.null_count else array)
    elif pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        words = _text_words(array.fill_null(b"") if array.null_count else array)
    elif pa.types.is_boolean(kind):
        words = _mix(_numbers(array, kind).astype(np.uint64))
    elif pa.types.is_integer(kind):
        words = _mix(_numbers(array, kind).astype(np.int64).view(np.uint64))
    elif pa.types.is_temporal(kind) and not pa.types.is_interval(kind):
        storage = array.cast(pa.int64() if kind.bit_width == 64 else pa.int32())
        words = _mix(_numbers(storage, storage.type).astype(np.int64).view(np.uint64))
    else:  # NULL-typed, nested and other types: the text of each value
        words = _text_words(pa.array(["" if v is None else repr(v) for v in array.to_pylist()], pa.string()))
    if array.null_count:
        words = np.where(array.is_null().to_numpy(zero_copy_only=False), _NULL, words)
    return words


def row_hashes(table):
    """One uint64 hash per row of a pyarrow Table (its columns mixed in order)."""
    rows = np.zeros(table.num_rows, dtype=np.uint64)
    for position, column in enumerate(table.columns):
        array = column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()
        rows = _mix(rows * _ROW_FACTOR + column_words(array) + np.uint64(position * int(_SEED) & _MASK))
    return rows


def checksum(table):
    """Order-independent checksum (16 hex digits) of the rows of a pyarrow Table."""
    return f"{int(row_hashes(table).sum(dtype=np.uint64)) if table.num_rows else 0:016x}"


def unmatched_rows(old, new):
    """(positions of the rows of ``old`` not in ``new``, positions of the rows of ``new`` not in
    ``old``), counting repeated rows (a row twice in old and once in new: one of its positions),
    each ascending; rows compare as ``checksum`` does."""
    old_hashes, new_hashes = row_hashes(old), row_hashes(new)
    return _surplus(old_hashes, new_hashes), _surplus(new_hashes, old_hashes)


def _surplus(mine, theirs):
    """Positions of the values of ``mine`` beyond their count in ``theirs`` (the last copies)."""
    order = np.argsort(mine, kind="stable")
    ordered = mine[order]
    first = np.searchsorted(ordered, ordered, side="left")
    rank = np.arange(len(ordered)) - first  # 0 for the first copy of a value, 1 for the second...
    present = np.searchsorted(np.sort(theirs), ordered, side="right") - np.searchsorted(np.sort(theirs), ordered)
    return np.sort(order[rank >= present])
