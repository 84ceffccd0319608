"""The czar's merge without DuckDB, for the merge shapes the kernels answer exactly.

``fast_merge(spec, partials)`` reads the plan's ``MergeSpec`` (``qserv.query.merge_spec``, written
by the planner next to the merge SELECT) and either returns the merged pyarrow Table, with the
column names, types and row order DuckDB gives, or ``None``: the caller then runs the merge SELECT
on the czar's DuckDB. The kinds it answers:

- **concat / projection** (no ORDER BY): the partial columns (renamed), rows cut to LIMIT/OFFSET,
  no work at all.
- **top-k of sorted partials** (ORDER BY partial columns, LIMIT n [OFFSET m]): the k-way merge of
  the workers' sorted runs (``qserv.merge.kernels.topk``; the runs are checked and split where
  unsorted, so the answer does not depend on how the workers sorted). Rows tied on every ORDER BY
  key come in partial order; DuckDB's order among ties is unspecified.
- **group combine** (group keys, SUM, COUNT, MIN, MAX of partials and quotients of sums, ORDER BY
  any of these, LIMIT, OFFSET): hash grouping, then per-group sums, extremes and the AVG quotient;
  without keys one row (a global aggregate). Without ORDER BY the groups come in order of first
  appearance (DuckDB's order is unspecified). Float sums add in row order, as a single-threaded
  DuckDB does; the czar's multi-threaded DuckDB adds in an order of its own, so float SUM/AVG may
  differ from it in the last bits (the tests use 1e-12).

``GENERAL`` specs, and partials of types the kernels do not handle exactly (decimals with a scale
in sums or sort keys, time zones, intervals, integer sums leaving int64, integer sums above 2**53
in a quotient, duplicate column names under ``SELECT *``, ...), give ``None``.

Decision rule ("whichever is faster for the case"). Medians on this shared 2-core machine
(``bench/merge_bench.py`` and sweeps with the same helpers; the kernel path includes the Arrow
conversions and the run check, DuckDB is ``Czar().run`` of the same statement and table):

    top-k, float key, 64 sorted runs      rows      k        kernel    DuckDB
                                          6 400     100      0.22 ms   1.6-2.4 ms
                                          320 000   10-1000  1.7 ms    2.5-5.4 ms
                                          640 000   100      2.4-3.6   3.1-3.3 ms  (even)
                                          640 000   100 000  8.9 ms    51 ms
                                          1 280 000 100      14 ms     8 ms
                                          2 560 000 2000     15 ms     12 ms
                                          1 280 000 10 000   8 ms      98 ms
    top-k, string key (ranked)            6 400     100      1.0 ms    1.8 ms
                                          64 000    1000     8.7 ms    3.7 ms
    group combine, int64 key              40        10 grp   1.0 ms    2.2 ms
    (COUNT, SUM, MIN, MAX, AVG)           64 000    1e3 grp  2.4 ms    3.5 ms
                                          4 000 000 1e6 grp  326 ms    651 ms
    GROUP BY k ORDER BY SUM(x) (full)     2 000 000 1e6 grp  435 ms    362 ms
    group combine, string key             64 000    1e3 grp  8.3 ms    5.3 ms
                                          400 000   1e5 grp  44-71 ms  43-65 ms

The top-k kernel costs ~5.5 ns per partial row (Arrow conversion and the run check) plus
almost nothing per output row; DuckDB's top-N costs ~1.5 ms fixed, ~4 ns per row, and grows
steeply with k. Hence ``TOPK_MAX_ROWS`` (kernel up to 600 000 partial rows) and ``TOPK_LARGE_K``
(kernel for any size from k = 10 000). Ranking strings (dictionary encoding and a sort of the
distinct values) loses to DuckDB beyond small inputs: kernel only up to ``STRING_MAX_ROWS``
partial rows when a sort or group key or a MIN/MAX value is a string. Numeric group combines
won every measured case but one (a full sort of 1e6 groups on an aggregate, 0.8x), so they
always take the kernel. Under the executor's contract (each partial cut to LIMIT + OFFSET rows)
a top-k merge has at most chunks x k rows, where the kernel wins by 5-15x.
"""

import numpy as np
import pyarrow as pa

from qserv.merge import kernels
from qserv.query import merge_spec as ms

# Decision thresholds (see the module docstring).
TOPK_MAX_ROWS = 600_000  # top-k on numeric keys: kernel up to this many partial rows ...
TOPK_LARGE_K = 10_000  # ... or for any row count from this k (LIMIT + OFFSET) on
STRING_MAX_ROWS = 16_000  # string/binary sort or group keys (ranked via dictionary_encode): kernel up to this

_EXACT = 2 ** 53
_ROW_KINDS = (ms.CONCAT, ms.PROJECTION, ms.TOP_K)


class _Unsupported(Exception):
    """The partials are not ones the kernels answer exactly: DuckDB runs the merge."""


def fast_merge(spec, partials, decide=True):
    """The merge described by ``spec`` (a ``MergeSpec``) of the Arrow table ``partials``, or
    ``None`` when the kernels cannot answer it exactly or (with ``decide``, the default) DuckDB is
    expected to be faster."""
    if not isinstance(spec, ms.MergeSpec) or spec.kind == ms.GENERAL or not isinstance(partials, pa.Table):
        return None
    try:
        shape = _RowMerge(spec, partials) if spec.kind in _ROW_KINDS else _Combine(spec, partials)
        if decide and not shape.kernel_wins():
            return None
        return shape.run()
    except (_Unsupported, kernels.UnsupportedColumn, OverflowError):
        return None


def _resolve(name, names):
    """The partial column ``name`` names (DuckDB matches names case-insensitively)."""
    matches = [n for n in names if n == name] or [n for n in names if n.lower() == name.lower()]
    if len(matches) != 1:
        raise _Unsupported(f"column {name!r}")
    return matches[0]


def duckdb_type(data_type):
    """The Arrow type DuckDB gives back for a column of ``data_type`` read from Arrow, for the
    types the fast path handles (``None`` for the others)."""
    if (pa.types.is_integer(data_type) or pa.types.is_float32(data_type) or pa.types.is_float64(data_type)
            or pa.types.is_boolean(data_type) or pa.types.is_date32(data_type)
            or pa.types.is_time64(data_type) or pa.types.is_decimal128(data_type)
            or (pa.types.is_timestamp(data_type) and data_type.tz is None)):
        return data_type
    if pa.types.is_dictionary(data_type):
        value = data_type.value_type
        return pa.string() if pa.types.is_string(value) or pa.types.is_large_string(value) else None
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type) or pa.types.is_string_view(data_type):
        return pa.string()
    if pa.types.is_binary(data_type) or pa.types.is_large_binary(data_type):
        return pa.binary()
    return None


def _passthrough(data_type):
    target = duckdb_type(data_type)
    if target is None:
        raise _Unsupported(f"type {data_type}")
    return target


def _cast(column, target):
    if column.type == target:
        return column
    try:
        return column.cast(target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise _Unsupported(f"cast to {target}") from exc


def _numeric(data_type):
    """Types whose values int64 or float64 hold exactly."""
    return (pa.types.is_float32(data_type) or pa.types.is_float64(data_type)
            or (pa.types.is_integer(data_type) and not pa.types.is_uint64(data_type)))


def _has_strings(types):
    return any(kernels._is_string(kind) or pa.types.is_dictionary(kind) for kind in types)


# -- row merges: projections and top-k of sorted partials ---------------------------------------

class _RowMerge:
    def __init__(self, spec, partials):
        self.partials = partials
        names = partials.column_names
        self.count, self.offset, self.k = spec.limit, spec.offset, spec.k  # no ORDER BY: any rows
        if spec.outputs is None:  # SELECT *
            if len(set(names)) != len(names):
                raise _Unsupported("SELECT * of partials with duplicate column names")
            self.items = [(name, name) for name in names]
        else:
            self.items = [(output, _resolve(source, names)) for output, source in spec.outputs]
        self.order = [(_resolve(name, names), desc, nulls_first) for name, desc, nulls_first in spec.order]
        self.types = [_passthrough(partials.schema.field(source).type) for _, source in self.items]

    def kernel_wins(self):
        rows = self.partials.num_rows
        if not self.order:  # a projection, perhaps cut: no work for either
            return True
        if _has_strings([self.partials.schema.field(name).type for name, _, _ in self.order]):
            return rows <= STRING_MAX_ROWS
        return rows <= TOPK_MAX_ROWS or self.k >= TOPK_LARGE_K

    def run(self):
        if not self.order:
            rows = self.partials.slice(self.offset, self.count)
            arrays = [_cast(rows.column(source), target) for (_, source), target in zip(self.items, self.types)]
            return pa.Table.from_arrays(arrays, names=[output for output, _ in self.items])
        columns = [self.partials.column(name) for name, _, _ in self.order]
        rows = kernels.topk_columns(columns, [(d, f) for _, d, f in self.order], self.k)[self.offset:]
        arrays = [_cast(kernels.take(self.partials.column(source), rows), target)
                  for (_, source), target in zip(self.items, self.types)]
        return pa.Table.from_arrays(arrays, names=[output for output, _ in self.items])


# -- group combine ------------------------------------------------------------------------------

class _Value:
    """An evaluated merge value: the Arrow array (DuckDB's type) and, for sums, the numbers
    (int64 or float64) and validity behind it."""

    def __init__(self, array, numbers=None, valid=None):
        self.array, self.numbers, self.valid = array, numbers, valid


def _partials_of(values):
    """The ``Partial``s of ``values`` (Quotients give both sides)."""
    for value in values:
        yield from ((value.numerator, value.denominator) if isinstance(value, ms.Quotient) else (value,))


class _Combine:
    def __init__(self, spec, partials):
        self.partials = partials
        self.names = partials.column_names
        self.keys = [_resolve(key, self.names) for key in spec.keys]
        self.count, self.offset = spec.limit, spec.offset
        self.items, self.order = spec.outputs, spec.order
        self.values = spec.values()
        self.types = [self._type(value) for _, value in self.items]
        for value, _, _ in self.order:
            self._type(value)
        for key in self.keys:
            _passthrough(partials.schema.field(key).type)

    # result types, before any work
    def _column_type(self, partial):
        return self.partials.schema.field(_resolve(partial.column, self.names)).type

    def _sum_type(self, partial):
        """The type of SUM of a partial column (COUNT: the SUM, 0 for no rows)."""
        if partial.op not in (ms.SUM, ms.COUNT):
            raise _Unsupported(f"a quotient of {partial.op} values")
        kind = self._column_type(partial)
        if pa.types.is_integer(kind) or (pa.types.is_decimal128(kind) and kind.scale == 0):
            return pa.decimal128(38, 0)
        if pa.types.is_float32(kind) or pa.types.is_float64(kind):
            return pa.float64()
        raise _Unsupported(f"SUM of {kind}")

    def _type(self, value):
        if isinstance(value, ms.Quotient):
            self._sum_type(value.numerator)
            self._sum_type(value.denominator)
            return pa.float64()
        if value.op == ms.KEY:
            if _resolve(value.column, self.names) not in self.keys:
                raise _Unsupported("a column outside GROUP BY")
            return _passthrough(self._column_type(value))
        if value.op in (ms.MIN, ms.MAX):
            kind = self._column_type(value)
            if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
                    or pa.types.is_decimal128(kind) or pa.types.is_date32(kind) or pa.types.is_time64(kind)
                    or pa.types.is_timestamp(kind) or kernels._is_string(kind) or pa.types.is_dictionary(kind)):
                raise _Unsupported(f"MIN/MAX of {kind}")
            return _passthrough(kind)
        return self._sum_type(value)

    def kernel_wins(self):
        """Numeric group keys: the kernel won every measured case; string keys, string MIN/MAX
        or string ORDER BY values only on small inputs."""
        columns = self.keys + [_resolve(partial.column, self.names) for partial in _partials_of(self.values)
                               if partial.op in (ms.MIN, ms.MAX)]
        if _has_strings([self.partials.schema.field(name).type for name in columns]):
            return self.partials.num_rows <= STRING_MAX_ROWS
        return True

    # evaluation
    def run(self):
        partials = self.partials
        rows = partials.num_rows
        self._columns = {}
        if self.keys:
            self.group, self.first = kernels.groups_of(
                [kernels.group_key(self._column(key)) for key in self.keys])
        else:
            self.group, self.first = np.zeros(rows, dtype=np.int64), np.zeros(1, dtype=np.int64)
        self.groups = len(self.first)
        self._aggregate()
        self._cache = {}
        arrays = [_cast(self._value(value).array, target)
                  for (_, value), target in zip(self.items, self.types)]
        order = None
        if self.order:
            keys = [(*kernels.sort_key(self._value(value).array), desc, nulls_first)
                    for value, desc, nulls_first in self.order]
            want = self.groups if self.count is None else min(self.groups, self.count + self.offset)
            order = kernels.topk(np.array([0, self.groups], dtype=np.int64), keys, want)[self.offset:]
        elif self.count is not None or self.offset:
            stop = self.groups if self.count is None else self.offset + self.count
            order = np.arange(min(self.offset, self.groups), min(stop, self.groups), dtype=np.int64)
        if order is not None:
            indices = pa.array(order, pa.int64())
            arrays = [array.take(indices) for array in arrays]
        return pa.Table.from_arrays(arrays, names=[output for output, _ in self.items])

    def _column(self, name):
        """One contiguous Array per partial column used (concatenated once)."""
        if name not in self._columns:
            self._columns[name] = kernels._array(self.partials.column(name))
        return self._columns[name]

    def _aggregate(self):
        """Every SUM, MIN and MAX of the spec in one kernel pass over the partials: ``(op, column)``
        -> ``_Value`` (``sum`` for SUM and COUNT partials)."""
        wanted = list(dict.fromkeys((ms.SUM if partial.op == ms.COUNT else partial.op, partial.column)
                                    for partial in _partials_of(self.values) if partial.op != ms.KEY))
        specs, self._aggregates = [], {}
        for op, name in wanted:
            column = self._column(_resolve(name, self.names))
            if op == ms.SUM:
                try:
                    if pa.types.is_floating(column.type):
                        values = kernels._numbers(column, np.float64)
                    else:
                        values = kernels._numbers(column.cast(pa.int64(), safe=True), np.int64)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise _Unsupported(f"SUM of {column.type} values") from exc
                specs.append((values, kernels._valid(column), "sum"))
            elif _numeric(column.type):  # the extreme value itself, cast back exactly
                dtype = np.float64 if pa.types.is_floating(column.type) else np.int64
                specs.append((kernels._numbers(column.cast(pa.from_numpy_dtype(dtype)), dtype),
                              kernels._valid(column), op))
            else:  # the row holding it (strings by rank, dates, decimals, ...)
                values, valid = kernels.sort_key(column)
                specs.append((values, valid, "arg" + op))
        results = kernels.aggregate(self.group, self.groups, specs, dense=self.partials.num_rows > 0)
        for (op, name), result, (_, _, kernel_op) in zip(wanted, results, specs):
            column = self._column(_resolve(name, self.names))
            if op == ms.SUM:
                sums, valid = result
                target = pa.float64() if pa.types.is_floating(column.type) else pa.decimal128(38, 0)
                self._aggregates[op, name] = _Value(_cast(pa.array(sums, mask=~valid), target), sums, valid)
            elif kernel_op.startswith("arg"):
                self._aggregates[op, name] = _Value(kernels.take(column, result))
            else:
                values, valid = result
                self._aggregates[op, name] = _Value(_cast(pa.array(values, mask=~valid), column.type))

    def _value(self, value):
        if value not in self._cache:
            self._cache[value] = self._evaluate(value)
        return self._cache[value]

    def _evaluate(self, value):
        if isinstance(value, ms.Quotient):
            top, bottom = self._value(value.numerator), self._value(value.denominator)
            for part in (top, bottom):
                if part.numbers.dtype == np.int64 and np.any(np.abs(part.numbers[part.valid]) > _EXACT):
                    raise _Unsupported("an integer sum beyond 2**53 in a division")
            valid = top.valid & bottom.valid & (bottom.numbers != 0)
            quotient = np.zeros(self.groups, dtype=np.float64)
            with np.errstate(all="ignore"):
                np.divide(top.numbers.astype(np.float64), bottom.numbers.astype(np.float64),
                          out=quotient, where=valid)
            return _Value(pa.array(quotient, pa.float64(), mask=~valid), quotient, valid)
        if value.op == ms.KEY:
            return _Value(kernels.take(self._column(_resolve(value.column, self.names)), self.first))
        if value.op == ms.COUNT:  # COALESCE(SUM(count partial), 0)
            total = self._aggregates[ms.SUM, value.column]
            numbers = np.where(total.valid, total.numbers, 0).astype(total.numbers.dtype)
            return _Value(total.array.fill_null(pa.scalar(0, total.array.type)), numbers,
                          np.ones(self.groups, bool))
        return self._aggregates[value.op, value.column]
