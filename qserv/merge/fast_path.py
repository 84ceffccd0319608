"""The czar's merge without DuckDB, for the merge shapes the kernels answer exactly.

``fast_merge(merge_select, partials)`` looks at the merge SELECT (``qserv.query.aggregates``)
and either returns the merged pyarrow Table, with the column names, types and row order DuckDB
gives, or ``None``: the caller then runs the statement on the czar's DuckDB. Two shapes:

- **projection** — ``SELECT <partial columns, renamed> | * FROM _qserv_partials [LIMIT n]
  [OFFSET m]`` without ORDER BY: the columns renamed (and the rows cut), no work at all.
- **top-k of sorted partials** — ``SELECT <partial columns, renamed> | * FROM _qserv_partials
  ORDER BY <partial columns> LIMIT n [OFFSET m]``: the k-way merge of the workers' sorted runs
  (``qserv.merge.kernels.topk``; the runs are checked and split where unsorted, so the answer
  does not depend on how the workers sorted). Rows tied on every ORDER BY key come in partial
  order; DuckDB's order among ties is unspecified.
- **group combine** — ``SELECT <group keys>, SUM(p), COALESCE(SUM(p), 0), MIN(p), MAX(p),
  SUM(p) / NULLIF(SUM(q), 0) FROM _qserv_partials [GROUP BY <partial columns>] [ORDER BY any of
  these] [LIMIT n] [OFFSET m]`` (no HAVING, no DISTINCT): hash grouping, then per-group sums,
  extremes and the AVG quotient; without GROUP BY one row (a global aggregate). Without ORDER BY
  the groups come in order of first appearance (DuckDB's order is unspecified). Float sums add in
  row order, as a single-threaded DuckDB does; the czar's multi-threaded DuckDB adds in an order
  of its own, so float SUM/AVG may differ from it in the last bits (the tests use 1e-12).

Anything else (expressions in ORDER BY or the select list beyond those, DISTINCT, HAVING,
COUNT(DISTINCT), decimals with a scale in sums or sort keys, time zones, intervals, integer sums
leaving int64, integer sums above 2**53 in a quotient, ...) gives ``None``.

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
from sqlglot import exp

from qserv.merge import kernels
from qserv.query.aggregates import PARTIALS

# Decision thresholds (see the module docstring).
TOPK_MAX_ROWS = 600_000  # top-k on numeric keys: kernel up to this many partial rows ...
TOPK_LARGE_K = 10_000  # ... or for any row count from this k (LIMIT + OFFSET) on
STRING_MAX_ROWS = 16_000  # string/binary sort or group keys (ranked via dictionary_encode): kernel up to this

_ROW_ARGS = frozenset({"expressions", "from_", "order", "limit", "offset"})
_GROUP_ARGS = _ROW_ARGS | {"group"}
_EXACT = 2 ** 53


class _Unsupported(Exception):
    """The merge is not a shape the kernels answer exactly: DuckDB runs it."""


def fast_merge(merge_select, partials, decide=True):
    """The result of the merge SELECT ``merge_select`` (a sqlglot ``exp.Select`` over
    ``_qserv_partials``) on the Arrow table ``partials``, or ``None`` when the kernels cannot
    answer it exactly or (with ``decide``, the default) DuckDB is expected to be faster."""
    if not isinstance(merge_select, exp.Select) or not isinstance(partials, pa.Table):
        return None
    try:
        if merge_select.args.get("group") or _aggregated(merge_select):
            shape = _Combine(merge_select, partials)
        else:
            shape = _RowMerge(merge_select, partials)
        if decide and not shape.kernel_wins():
            return None
        return shape.run()
    except (_Unsupported, kernels.UnsupportedColumn, OverflowError):
        return None


# -- recognising the merge SELECT ---------------------------------------------------------------

def _aggregated(select):
    return any(item.find(exp.AggFunc) for item in select.expressions)


def _plain(node, *allowed):
    """``node`` has no set argument outside ``allowed``."""
    return all(not value or key in allowed for key, value in node.args.items())


def _frame(select, allowed):
    if not _plain(select, *allowed):
        raise _Unsupported("clause")
    source = select.args.get("from_")
    table = source.this if isinstance(source, exp.From) else None
    if not isinstance(table, exp.Table) or not _plain(table, "this") or table.name != PARTIALS \
            or not _plain(source, "this"):
        raise _Unsupported("source")


def _literal_count(node):
    if not isinstance(node, exp.Literal) or node.is_string or not node.this.isdigit():
        raise _Unsupported("LIMIT/OFFSET")
    return int(node.this)


def _limits(select):
    limit, offset = select.args.get("limit"), select.args.get("offset")
    count = skip = None
    if limit is not None:
        if not isinstance(limit, exp.Limit) or not _plain(limit, "expression"):
            raise _Unsupported("LIMIT")
        count = _literal_count(limit.expression)
    if offset is not None:
        if not isinstance(offset, exp.Offset) or not _plain(offset, "expression"):
            raise _Unsupported("OFFSET")
        skip = _literal_count(offset.expression)
    return count, skip or 0


def _order(select):
    """[(expression, desc, nulls_first)] of the ORDER BY (DuckDB: NULLS LAST unless asked)."""
    order = select.args.get("order")
    if order is None:
        return []
    if not _plain(order, "expressions"):
        raise _Unsupported("ORDER BY")
    terms = []
    for ordered in order.expressions:
        if not isinstance(ordered, exp.Ordered) or not _plain(ordered, "this", "desc", "nulls_first"):
            raise _Unsupported("ORDER BY term")
        terms.append((ordered.this, bool(ordered.args.get("desc")), bool(ordered.args.get("nulls_first"))))
    return terms


def _resolve(node, names):
    """The partial column a plain column reference names (DuckDB matches names case-insensitively)."""
    if not isinstance(node, exp.Column) or not _plain(node, "this") \
            or not isinstance(node.this, exp.Identifier):
        raise _Unsupported("not a plain column")
    name = node.name
    matches = [n for n in names if n == name] or [n for n in names if n.lower() == name.lower()]
    if len(matches) != 1:
        raise _Unsupported(f"column {name!r}")
    return matches[0]


def _items(select):
    """[(output name, expression)] of the select list."""
    items = []
    for item in select.expressions:
        if isinstance(item, exp.Alias):
            if not _plain(item, "this", "alias"):
                raise _Unsupported("alias")
            items.append((item.alias, item.this))
        elif isinstance(item, exp.Column):
            items.append((item.name, item))
        else:
            raise _Unsupported("unnamed select item")
    return items


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
    def __init__(self, select, partials):
        _frame(select, _ROW_ARGS)
        self.partials = partials
        names = partials.column_names
        count, self.offset = _limits(select)
        terms = _order(select)
        if count is None and terms:
            raise _Unsupported("a full sort (ORDER BY without LIMIT)")
        self.count = count  # without ORDER BY: any ``count`` rows after ``offset`` (all if None)
        self.k = None if count is None else count + self.offset
        if len(select.expressions) == 1 and isinstance(select.expressions[0], exp.Star):
            if not _plain(select.expressions[0]) or len(set(names)) != len(names):
                raise _Unsupported("star")
            self.items = [(name, name) for name in names]
        else:
            self.items = [(output, _resolve(node, names)) for output, node in _items(select)]
            # an output name shadowing another partial column would change what ORDER BY means
            if any(output in names and output != source for output, source in self.items):
                raise _Unsupported("alias shadows a partial column")
        self.order = [(_resolve(node, names), desc, nulls_first) for node, desc, nulls_first in terms]
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

def _is_zero(node):
    return isinstance(node, exp.Literal) and not node.is_string and node.this == "0"


class _Value:
    """An evaluated merge expression: the Arrow array (DuckDB's type) and, for sums, the numbers
    (int64 or float64) and validity behind it."""

    def __init__(self, array, numbers=None, valid=None):
        self.array, self.numbers, self.valid = array, numbers, valid


class _Combine:
    def __init__(self, select, partials):
        _frame(select, _GROUP_ARGS)
        self.partials = partials
        self.names = partials.column_names
        group = select.args.get("group")
        if group is not None and not _plain(group, "expressions"):
            raise _Unsupported("GROUP BY")
        self.keys = [_resolve(node, self.names) for node in (group.expressions if group else [])]
        self.count, self.offset = _limits(select)
        self.items = _items(select)
        if any(output in self.names and output not in self.keys for output, _ in self.items):
            raise _Unsupported("alias shadows a partial column")
        self.order = _order(select)
        self.types = [self._type(node) for _, node in self.items]
        for node, _, _ in self.order:
            self._type(node)
        for key in self.keys:
            _passthrough(partials.schema.field(key).type)

    # structure and result types, before any work
    def _column_type(self, node):
        return self.partials.schema.field(_resolve(node, self.names)).type

    def _sum_type(self, node):
        if not isinstance(node, exp.Sum) or not _plain(node, "this"):
            raise _Unsupported("not a SUM")
        kind = self._column_type(node.this)
        if pa.types.is_integer(kind) or (pa.types.is_decimal128(kind) and kind.scale == 0):
            return pa.decimal128(38, 0)
        if pa.types.is_float32(kind) or pa.types.is_float64(kind):
            return pa.float64()
        raise _Unsupported(f"SUM of {kind}")

    def _summed_type(self, node):
        """SUM(p) or COALESCE(SUM(p), 0)."""
        if isinstance(node, exp.Coalesce):
            if not _plain(node, "this", "expressions") or len(node.expressions) != 1 \
                    or not _is_zero(node.expressions[0]):
                raise _Unsupported("COALESCE")
            return self._sum_type(node.this)
        return self._sum_type(node)

    def _type(self, node):
        if isinstance(node, exp.Column):
            name = _resolve(node, self.names)
            if name not in self.keys:
                raise _Unsupported("a column outside GROUP BY")
            return _passthrough(self.partials.schema.field(name).type)
        if isinstance(node, (exp.Min, exp.Max)):
            if not _plain(node, "this"):
                raise _Unsupported("MIN/MAX")
            kind = self._column_type(node.this)
            if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
                    or pa.types.is_decimal128(kind) or pa.types.is_date32(kind) or pa.types.is_time64(kind)
                    or pa.types.is_timestamp(kind) or kernels._is_string(kind) or pa.types.is_dictionary(kind)):
                raise _Unsupported(f"MIN/MAX of {kind}")
            return _passthrough(kind)
        if isinstance(node, exp.Div):
            if node.args.get("typed") or not _plain(node, "this", "expression", "safe", "typed"):
                raise _Unsupported("division")
            denominator = node.expression
            if isinstance(denominator, exp.Nullif):
                if not _plain(denominator, "this", "expression") or not _is_zero(denominator.expression):
                    raise _Unsupported("NULLIF")
                denominator = denominator.this
            elif not node.args.get("safe"):
                raise _Unsupported("division by a possible zero")
            self._summed_type(node.this)
            self._summed_type(denominator)
            return pa.float64()
        return self._summed_type(node)

    def kernel_wins(self):
        """Numeric group keys: the kernel won every measured case; string keys, string MIN/MAX
        or string ORDER BY values only on small inputs."""
        columns = list(self.keys)
        for node in [node for _, node in self.items] + [node for node, _, _ in self.order]:
            columns += [_resolve(call.this, self.names) for call in node.find_all(exp.Min, exp.Max)]
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
        arrays = [_cast(self._value(node).array, target)
                  for (_, node), target in zip(self.items, self.types)]
        order = None
        if self.order:
            keys = [(*kernels.sort_key(self._value(node).array), desc, nulls_first)
                    for node, desc, nulls_first in self.order]
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
        """Every SUM, MIN and MAX of the statement in one kernel pass over the partials."""
        wanted = {}
        for node in [node for _, node in self.items] + [node for node, _, _ in self.order]:
            for call in node.find_all(exp.Sum, exp.Min, exp.Max):
                wanted.setdefault(call.sql(), call)
        specs, self._aggregates = [], {}
        for key, call in wanted.items():
            column = self._column(_resolve(call.this, self.names))
            if isinstance(call, exp.Sum):
                try:
                    if pa.types.is_floating(column.type):
                        values = kernels._numbers(column, np.float64)
                    else:
                        values = kernels._numbers(column.cast(pa.int64(), safe=True), np.int64)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise _Unsupported(f"SUM of {column.type} values") from exc
                specs.append((values, kernels._valid(column), "sum"))
            else:
                op = "max" if isinstance(call, exp.Max) else "min"
                if _numeric(column.type):  # the extreme value itself, cast back exactly
                    dtype = np.float64 if pa.types.is_floating(column.type) else np.int64
                    specs.append((kernels._numbers(column.cast(pa.from_numpy_dtype(dtype)), dtype),
                                  kernels._valid(column), op))
                else:  # the row holding it (strings by rank, dates, decimals, ...)
                    values, valid = kernels.sort_key(column)
                    specs.append((values, valid, "arg" + op))
        results = kernels.aggregate(self.group, self.groups, specs, dense=self.partials.num_rows > 0)
        for (key, call), result, (_, _, op) in zip(wanted.items(), results, specs):
            column = self._column(_resolve(call.this, self.names))
            if isinstance(call, exp.Sum):
                sums, valid = result
                target = pa.float64() if pa.types.is_floating(column.type) else pa.decimal128(38, 0)
                self._aggregates[key] = _Value(_cast(pa.array(sums, mask=~valid), target), sums, valid)
            elif op.startswith("arg"):
                self._aggregates[key] = _Value(kernels.take(column, result))
            else:
                values, valid = result
                self._aggregates[key] = _Value(_cast(pa.array(values, mask=~valid), column.type))

    def _value(self, node):
        key = node.sql()
        if key not in self._cache:
            self._cache[key] = self._evaluate(node, key)
        return self._cache[key]

    def _evaluate(self, node, key):
        if isinstance(node, (exp.Sum, exp.Min, exp.Max)):
            return self._aggregates[key]
        if isinstance(node, exp.Column):
            return _Value(kernels.take(self._column(_resolve(node, self.names)), self.first))
        if isinstance(node, exp.Coalesce):
            total = self._value(node.this)
            numbers = np.where(total.valid, total.numbers, 0).astype(total.numbers.dtype)
            return _Value(total.array.fill_null(pa.scalar(0, total.array.type)), numbers,
                          np.ones(self.groups, bool))
        if isinstance(node, exp.Div):
            denominator = node.expression
            if isinstance(denominator, exp.Nullif):
                denominator = denominator.this
            top, bottom = self._value(node.this), self._value(denominator)
            for part in (top, bottom):
                if part.numbers.dtype == np.int64 and np.any(np.abs(part.numbers[part.valid]) > _EXACT):
                    raise _Unsupported("an integer sum beyond 2**53 in a division")
            valid = top.valid & bottom.valid & (bottom.numbers != 0)
            quotient = np.zeros(self.groups, dtype=np.float64)
            with np.errstate(all="ignore"):
                np.divide(top.numbers.astype(np.float64), bottom.numbers.astype(np.float64),
                          out=quotient, where=valid)
            return _Value(pa.array(quotient, pa.float64(), mask=~valid), quotient, valid)
        raise _Unsupported(f"expression {node.sql()}")
