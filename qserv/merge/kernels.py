"""Pyarrow <-> numpy wrappers of the merge kernels (``cython_ext/merge.pyx``, loaded with
``qserv.kernels.load("merge")``: no silent fallback) and their numpy reference implementations.

Two formats are shared by the kernels and the references, so the tests compare them directly:

- a *sort key* is ``(values, valid, desc, nulls_first)``: ``values`` int64 or float64 ordered as
  DuckDB orders the column (``sort_key``), ``valid`` uint8 (1 = not NULL) or ``None``;
- a *group key* is ``(values, valid)`` with int64 codes equal exactly when DuckDB puts two values
  in one group (``group_key``); a *partial* is ``(values, valid, op)``, op one of ``sum``,
  ``count``, ``min``, ``max``, values int64 or float64.

``topk`` / ``topk_reference`` give the row indices of the first ``k`` rows of the merge order (a
stable sort: ties keep row order). ``combine`` / ``combine_reference`` give ``(first, results)``:
the first row of every group in order of first appearance, and per partial ``(values, valid)``
per group with SQL NULL semantics (SUM of no value is NULL, COUNT partials add up and are never
NULL, MIN/MAX ignore NULLs; NaN is the greatest float).
"""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from qserv.kernels import load

OPS = ("sum", "count", "min", "max")
_SIGN = np.int64(-2**63)
_ARROW_TYPES = {np.dtype(np.float64): pa.float64(), np.dtype(np.int64): pa.int64(),
                np.dtype(np.uint64): pa.uint64()}
_CANONICAL_NAN = np.array([np.nan], dtype=np.float64).view(np.int64)[0]


class UnsupportedColumn(ValueError):
    """A column whose type the merge kernels do not handle (the caller uses DuckDB)."""


def _kernel():
    return load("merge")


# -- pyarrow -> numpy ---------------------------------------------------------------------------

def _array(column):
    """One contiguous pyarrow Array of ``column`` (Array or ChunkedArray)."""
    if isinstance(column, pa.ChunkedArray):
        if column.num_chunks == 1:
            return column.chunk(0)
        if column.num_chunks == 0:
            return pa.array([], column.type)
        return column.combine_chunks()
    return column


def _valid(array):
    """uint8 validity (1 = not NULL) of an Array, ``None`` without NULLs."""
    if array.null_count == 0:
        return None
    bitmap = array.buffers()[0]
    if bitmap is None or pa.types.is_dictionary(array.type) or pa.types.is_null(array.type):
        return np.ascontiguousarray(array.is_valid().to_numpy(zero_copy_only=False)).view(np.uint8)
    bits = np.unpackbits(np.frombuffer(bitmap, dtype=np.uint8), count=array.offset + len(array),
                         bitorder="little")
    return np.ascontiguousarray(bits[array.offset:])


def _numbers(array, dtype):
    """``array`` as a contiguous numpy ``dtype`` array; NULL slots hold unspecified values (the
    kernels and references never read them)."""
    if array.null_count and array.type == _ARROW_TYPES.get(np.dtype(dtype)):
        data = array.buffers()[1]
        return np.frombuffer(data, dtype=dtype, count=array.offset + len(array))[array.offset:]
    if array.null_count:
        array = pc.fill_null(array, pa.scalar(0, array.type))
    return np.ascontiguousarray(array.to_numpy(zero_copy_only=False), dtype=dtype)


def take(column, rows):
    """``column`` (Array or ChunkedArray) at ``rows`` (int64 numpy, -1 for NULL)."""
    rows = np.asarray(rows, dtype=np.int64)
    missing = rows < 0
    return column.take(pa.array(rows, pa.int64(), mask=missing if missing.any() else None))


def _is_string(data_type):
    return (pa.types.is_string(data_type) or pa.types.is_large_string(data_type)
            or pa.types.is_binary(data_type) or pa.types.is_large_binary(data_type)
            or pa.types.is_string_view(data_type) or pa.types.is_binary_view(data_type))


def _decoded(array):
    """Dictionary arrays as plain arrays of their values; string views as strings."""
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    if pa.types.is_string_view(array.type):
        array = array.cast(pa.large_string())
    if pa.types.is_binary_view(array.type):
        array = array.cast(pa.large_binary())
    return array


def _integral(array):
    """int64 values of an integer-like array, order preserved (uint64 shifted by 2**63)."""
    data_type = array.type
    if pa.types.is_uint64(data_type):
        return _numbers(array, np.uint64).view(np.int64) ^ _SIGN
    if pa.types.is_integer(data_type) or pa.types.is_boolean(data_type):
        return _numbers(array.cast(pa.int64()), np.int64)
    if pa.types.is_decimal(data_type) and data_type.scale == 0:
        try:
            return _numbers(array.cast(pa.int64(), safe=True), np.int64)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise UnsupportedColumn(f"{data_type} values beyond the int64 range") from None
    if pa.types.is_temporal(data_type) and not pa.types.is_duration(data_type) \
            and not pa.types.is_interval(data_type):
        width = pa.int32() if data_type.bit_width == 32 else pa.int64()
        return _numbers(array.view(width).cast(pa.int64()), np.int64)
    return None


def sort_key(column):
    """``(values, valid)`` of a pyarrow column ordered as DuckDB orders it: integers, booleans,
    integral decimals and dates/times as int64, floats as float64, strings and binaries by rank
    (byte order, as DuckDB compares them). Raises ``UnsupportedColumn`` for other types."""
    array = _decoded(_array(column))
    valid = _valid(array)
    if pa.types.is_floating(array.type) and not pa.types.is_float16(array.type):
        return _numbers(array, np.float64), valid
    values = _integral(array)
    if values is not None:
        return values, valid
    if _is_string(array.type):
        # rank of each distinct value (Arrow sorts strings and binaries by bytes, as DuckDB does)
        encoded = pc.dictionary_encode(array)
        order = pc.array_sort_indices(encoded.dictionary).to_numpy(zero_copy_only=False)
        ranks = np.empty(len(order), dtype=np.int64)
        ranks[order] = np.arange(len(order), dtype=np.int64)
        codes = _numbers(encoded.indices.cast(pa.int64()), np.int64)
        return np.ascontiguousarray(ranks[codes] if len(ranks) else codes), valid
    raise UnsupportedColumn(f"cannot order by a {array.type} column")


def group_key(column):
    """``(codes, valid)`` of a pyarrow column: int64 codes equal exactly when DuckDB groups the
    values together (floats: -0.0 with 0.0 and every NaN with every NaN)."""
    array = _decoded(_array(column))
    valid = _valid(array)
    if pa.types.is_floating(array.type) and not pa.types.is_float16(array.type):
        values = _numbers(array, np.float64) + 0.0  # -0.0 -> 0.0
        codes = values.view(np.int64).copy()
        codes[np.isnan(values)] = _CANONICAL_NAN
        return codes, valid
    values = _integral(array)
    if values is not None:
        return values, valid
    if _is_string(array.type) or pa.types.is_decimal(array.type):
        encoded = pc.dictionary_encode(array)
        return _numbers(encoded.indices.cast(pa.int64()), np.int64), valid
    raise UnsupportedColumn(f"cannot group by a {array.type} column")


def run_bounds(columns):
    """Run starts + total row count: the union of the chunk boundaries of ``columns`` (a chunk
    of the concatenated partials lies inside one worker's partial)."""
    bounds = {0}
    total = 0
    for column in columns:
        total, offset = len(column), 0
        for chunk in (column.chunks if isinstance(column, pa.ChunkedArray) else [column]):
            offset += len(chunk)
            bounds.add(offset)
    bounds.add(total)
    return np.array(sorted(bounds), dtype=np.int64)


# -- kernels ------------------------------------------------------------------------------------

def topk(bounds, keys, k, check=True):
    """Row indices (int64) of the first ``k`` rows of the merge of the sorted runs
    ``[bounds[i], bounds[i + 1])`` by the sort ``keys``; with ``check`` unsorted runs are split
    first, so the answer is right whatever the input order."""
    return _kernel().topk(np.asarray(bounds, dtype=np.int64), list(keys), int(k), bool(check))


def topk_columns(columns, directions, k, bounds=None):
    """``topk`` of pyarrow ``columns`` (the sort keys, in order) with ``directions`` a list of
    ``(desc, nulls_first)``; without ``bounds`` the runs are found by the run check."""
    keys = [(*sort_key(column), desc, nulls_first)
            for column, (desc, nulls_first) in zip(columns, directions)]
    if bounds is None:  # the run check finds the runs, wherever the partials begin and end
        bounds = np.array([0, len(columns[0])], dtype=np.int64)
    return topk(bounds, keys, k)


def groups_of(keys):
    """``(group, first)`` of the group keys (see ``group_key``): the group number of every row,
    in order of first appearance, and the first row of every group."""
    return _kernel().group_ids([(values, valid) for values, valid in keys])


def aggregate(group, groups, partials, dense=False):
    """Partials ``(values, valid, op)`` combined per group (``combine_partials``): ``(values,
    valid)`` per group for ``sum``, ``count`` (never NULL), ``min`` and ``max``; for ``argmin`` /
    ``argmax`` (values a sort key) the row (int64) holding each group's extreme, -1 for none.
    ``dense``: every group has a row (as numbered by ``groups_of``). Raises ``OverflowError``
    when an int64 sum overflows."""
    specs = []
    for values, valid, op in partials:
        if op not in OPS + ("argmin", "argmax"):
            raise ValueError(f"unknown op {op!r}")
        specs.append(("sum" if op == "count" else op, values, valid))
    results = []
    for (_, _, op), result in zip(partials, _kernel().combine_partials(group, groups, specs, dense)):
        if op in ("sum", "count"):
            sums, seen, overflow = result
            if overflow:
                raise OverflowError("an integer sum leaves the int64 range")
            result = (sums, np.ones(groups, bool) if op == "count" else seen.view(bool))
        elif op in ("min", "max"):
            result = (result[0], result[1].view(bool))
        results.append(result)
    return results


def combine_groups(group, groups, partials, dense=False):
    """Per partial ``(values, valid, op)`` the ``(values, valid)`` per group (see ``combine``)."""
    return aggregate(group, groups, partials, dense)


def combine(keys, partials):
    """``(first, results)``: the first row of every group (in order of first appearance) and,
    per partial, ``(values, valid)`` per group. No keys: one group of all rows (a global
    aggregate, one row even without input)."""
    if keys:
        group, first = groups_of(keys)
        dense = True
    else:
        rows = len(partials[0][0]) if partials else 0
        group, first, dense = np.zeros(rows, dtype=np.int64), np.zeros(1, dtype=np.int64), rows > 0
    return first, combine_groups(group, len(first), partials, dense)


# -- numpy references ---------------------------------------------------------------------------

def topk_reference(bounds, keys, k):
    """``topk`` by a stable numpy lexsort of all rows (the merge of sorted runs with ties broken
    by run then position is exactly that); ``bounds`` is only checked."""
    bounds = np.asarray(bounds, dtype=np.int64)
    n = len(keys[0][0])
    if len(bounds) < 1 or bounds[0] != 0 or bounds[-1] != n or np.any(np.diff(bounds) < 0):
        raise ValueError("bad run bounds")
    columns = []  # np.lexsort: last column is the primary key
    for values, valid, desc, nulls_first in keys:
        present = np.ones(n, bool) if valid is None else valid.astype(bool)
        null_rank = np.where(present, 1, 0 if nulls_first else 2)
        if values.dtype == np.float64:
            nan = np.isnan(values) & present
            plain = np.where(nan | ~present, 0.0, values)
            parts = [null_rank, np.where(nan, 0, 1) if desc else nan.astype(int), -plain if desc else plain]
        else:
            plain = np.where(present, values, 0)
            parts = [null_rank, ~plain if desc else plain]
        columns.extend(parts)
    order = np.lexsort(columns[::-1]) if columns else np.arange(n)
    return order[:min(k, n)].astype(np.int64)


def _codes(keys, n):
    """One int64 group number per row for several keys, numbered in order of first appearance."""
    if not keys:
        return np.zeros(n, dtype=np.int64)
    columns = []
    for values, valid in keys:
        present = np.ones(n, bool) if valid is None else valid.astype(bool)
        columns.append(np.where(present, values, 0))
        columns.append(present.astype(np.int64))
    stacked = np.stack(columns, axis=1) if n else np.zeros((0, len(columns)), np.int64)
    _, first, inverse = np.unique(stacked, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    renumber = np.empty(len(first), dtype=np.int64)
    renumber[order] = np.arange(len(first))
    return renumber[inverse.reshape(-1)]


def combine_reference(keys, partials):
    """``combine`` in numpy (np.unique for the groups, ufunc.at for the aggregates)."""
    n = len(keys[0][0]) if keys else (len(partials[0][0]) if partials else 0)
    group = _codes(keys, n)
    groups = (int(group.max()) + 1 if n else 0) if keys else 1
    first = np.full(groups, n, dtype=np.int64)
    np.minimum.at(first, group, np.arange(n))
    if not keys:
        first[:] = 0
    results = []
    for values, valid, op in partials:
        present = np.ones(n, bool) if valid is None else valid.astype(bool)
        seen = np.zeros(groups, bool)
        np.logical_or.at(seen, group, present)
        if op in ("sum", "count"):
            sums = np.zeros(groups, dtype=values.dtype)
            with np.errstate(invalid="ignore", over="ignore"):
                np.add.at(sums, group[present], values[present])
            results.append((sums, np.ones(groups, bool) if op == "count" else seen))
            continue
        if values.dtype == np.float64:
            nan = np.isnan(values) & present
            has_nan = np.zeros(groups, bool)
            np.logical_or.at(has_nan, group, nan)
            plain = present & ~nan
            has_plain = np.zeros(groups, bool)
            np.logical_or.at(has_plain, group, plain)
            best = np.full(groups, -np.inf if op == "max" else np.inf)
            (np.maximum if op == "max" else np.minimum).at(best, group[plain], values[plain])
            use_nan = has_nan if op == "max" else has_nan & ~has_plain
            out = np.where(use_nan, np.nan, np.where(has_plain, best, 0.0))
        else:
            info = np.iinfo(np.int64)
            best = np.full(groups, info.min if op == "max" else info.max, dtype=np.int64)
            (np.maximum if op == "max" else np.minimum).at(best, group[present], values[present])
            out = np.where(seen, best, 0)
        results.append((out.astype(values.dtype), seen))
    return first, results
