"""Split one SELECT over a sharded table into a per-chunk worker query and a merge query (pure).

``split_aggregates(select)`` gives an ``AggregateSplit(worker, merge)``: ``worker`` runs on every
chunk of the table; ``merge`` runs over the union of all worker results, a table named
``_qserv_partials`` (``PARTIALS``), and gives exactly the answer of ``select`` on the whole table.

- Aggregate queries (an aggregate anywhere, or GROUP BY): group keys are computed on workers
  (``_qserv_g<k>``) and grouped again at merge; COUNT -> COALESCE(SUM(count), 0), SUM -> SUM,
  MIN/MAX twice, AVG -> SUM(sum) / SUM(count) (NULL for a zero count); partials are
  ``_qserv_a<n>``. COUNT(DISTINCT x) pushes ``x`` down as an extra worker group key
  (``_qserv_d``) counted at merge. WHERE stays on workers; HAVING, DISTINCT, ORDER BY, LIMIT and
  OFFSET apply only at merge, HAVING and ORDER BY rewritten against the partials (select aliases
  and ``ORDER BY <position>`` allowed).
- Row queries: workers compute the select list (``_qserv_c<i>``, plus ``_qserv_o<j>`` for ORDER BY
  keys not selected) under WHERE, and DISTINCT; with LIMIT n [OFFSET m] they also keep ORDER BY
  and LIMIT n + m (top-k). The merge applies DISTINCT, ORDER BY, LIMIT and OFFSET.
- The merge select names its columns as the user did: the alias, the column name, or the
  expression's SQL text.
- Next to the merge select, a ``MergeSpec`` (``qserv.query.merge_spec``) says what it computes when
  the merge kernels can answer it: the partials as they are, renamed, their top-k, or a group
  combine of SUM/COUNT/MIN/MAX/AVG partials (``GENERAL`` otherwise: DISTINCT, HAVING,
  COUNT(DISTINCT), expressions over aggregates, ORDER BY without LIMIT, FETCH, ...).

Joins stay on the workers as written (``qserv.query.joins`` decides whether they are chunk-local);
with joins, expressions are compared with their table qualifiers.

Anything that cannot be split exactly raises ``UnsupportedQueryError`` naming the construct.
"""

from dataclasses import dataclass

from sqlglot import exp

from qserv.errors import UnsupportedQueryError
from qserv.query import merge_spec as ms
from qserv.sql.adql import is_call

PARTIALS = "_qserv_partials"
_PREFIX = "_qserv_"
_REFUSED = {exp.Window: "window functions", exp.Filter: "aggregate FILTER clauses",
            exp.With: "WITH (common table expressions)",
            exp.Lateral: "LATERAL", exp.Qualify: "QUALIFY"}
# aggregates sqlglot parses as plain (anonymous) function calls
_OPAQUE_AGGREGATES = ("SCISQL_MEDIAN", "SCISQL_PERCENTILE", "JSON_ARRAYAGG", "JSON_OBJECTAGG")


@dataclass(frozen=True)
class AggregateSplit:
    worker: exp.Select
    merge: exp.Select
    spec: ms.MergeSpec  # what ``merge`` computes, for the merge kernels


def _column(name):
    return exp.column(exp.to_identifier(name))


def _shape(node, strip=True):
    """``node`` for comparisons: without table qualifiers when the query has one table source."""
    node = node.copy()
    if strip:
        for column in node.find_all(exp.Column):
            column.set("table", None)
    return node


def _output_name(item):
    if isinstance(item, (exp.Alias, exp.Column)):
        return item.alias_or_name
    return item.sql()


def _integer(node):
    if isinstance(node, exp.Literal) and not node.is_string and node.this.isdigit():
        return int(node.this)
    return None


def _position(node, items):
    """The 1-based select item ``node`` refers to by number (``ORDER BY 2``), or ``None``."""
    position = _integer(node)
    if position is not None and not 1 <= position <= len(items):
        raise UnsupportedQueryError(f"position {position} is not in the select list")
    return position


def _check(select):
    if not isinstance(select, exp.Select):
        raise UnsupportedQueryError(f"only a single SELECT can be split, not {select.key.upper()}")
    sources = [select.args.get("from_"), *(select.args.get("joins") or [])]
    if sources[0] is None or not all(isinstance(s.this, exp.Table) for s in sources):
        raise UnsupportedQueryError("the query must read from catalog tables only")
    for node in select.walk():
        for kind, construct in _REFUSED.items():
            if isinstance(node, kind):
                raise UnsupportedQueryError(f"{construct} cannot be split over chunks")
        if isinstance(node, exp.Select) and node is not select:
            raise UnsupportedQueryError("subqueries cannot be split over chunks")
        if is_call(node, *_OPAQUE_AGGREGATES):
            raise UnsupportedQueryError(f"the aggregate {node.name}(...) cannot be split over chunks")
    group = select.args.get("group")
    if group and (any(group.args.get(key) for key in ("rollup", "cube", "grouping_sets", "totals"))
                  or group.find(exp.Rollup, exp.Cube, exp.GroupingSets)):
        raise UnsupportedQueryError("GROUP BY ROLLUP/CUBE/GROUPING SETS cannot be split over chunks")
    distinct = select.args.get("distinct")
    if distinct and distinct.args.get("on"):
        raise UnsupportedQueryError("SELECT DISTINCT ON cannot be split over chunks")


def _plain_count(node, kind):
    """``node`` is absent, or a ``kind`` (exp.Limit, exp.Offset) of an integer literal and nothing else."""
    return node is None or (isinstance(node, kind) and _integer(node.expression) is not None
                            and all(not value or name == "expression" for name, value in node.args.items()))


def _limits(select):
    """(limit, offset) as ints, limit ``None`` if absent, offset 0 if absent; ``None`` when one is
    not a plain integer literal (FETCH, an expression)."""
    limit, offset = select.args.get("limit"), select.args.get("offset")
    if not (_plain_count(limit, exp.Limit) and _plain_count(offset, exp.Offset)):
        return None
    return (_integer(limit.expression) if limit else None), (_integer(offset.expression) if offset else 0)


def _ordered(ordered, target):
    """``ordered`` (an ORDER BY term) sorting on ``target`` instead, same direction and NULLs."""
    ordered = ordered.copy()
    ordered.set("this", target)
    return ordered


def _merge_frame(select, items):
    """The merge select with ``items``, reading the partials, with DISTINCT/LIMIT/OFFSET copied."""
    merge = exp.select(*items).from_(exp.Table(this=exp.to_identifier(PARTIALS)))
    for key in ("distinct", "limit", "offset"):
        if select.args.get(key):
            merge.set(key, select.args[key].copy())
    return merge


def _worker_frame(select, items):
    worker = exp.select(*items).from_(select.args["from_"].this.copy())
    if select.args.get("joins"):
        worker.set("joins", [join.copy() for join in select.args["joins"]])
    if select.args.get("where"):
        worker.set("where", select.args["where"].copy())
    return worker


class _Aggregates:
    """Rewrites expressions over the original table into expressions over the partials."""

    def __init__(self, select):
        self.aliases = {item.alias: item.this for item in select.expressions
                        if isinstance(item, exp.Alias)}
        self.strip = not select.args.get("joins")
        self.keys = []  # (shape, worker expression)
        self.partials = {}  # worker aggregate SQL -> its alias
        self.worker_items = []
        self.distinct = None
        for key in (select.args["group"].expressions if select.args.get("group") else []):
            self._add_key(self._group_key(key, select.expressions))

    def _group_key(self, key, items):
        position = _position(key, items)
        if position is not None:
            key = items[position - 1].unalias()
        elif isinstance(key, exp.Column) and not key.table and key.name in self.aliases:
            key = self.aliases[key.name]
        if key.find(exp.AggFunc):
            raise UnsupportedQueryError("aggregates cannot be used in GROUP BY")
        return key

    def _add_key(self, key):
        alias = f"{_PREFIX}g{len(self.keys)}"
        self.keys.append((_shape(key, self.strip), key))
        self.worker_items.append(exp.alias_(key.copy(), alias))

    def _key(self, node):
        """The number of the group key ``node`` is, or ``None``."""
        shape = _shape(node, self.strip)
        return next((k for k, (key, _) in enumerate(self.keys) if shape == key), None)

    def _partial(self, aggregate):
        """The partial column of the worker aggregate ``aggregate`` (added on first use)."""
        sql = aggregate.sql()
        if sql not in self.partials:
            self.partials[sql] = f"{_PREFIX}a{len(self.partials)}"
            self.worker_items.append(exp.alias_(aggregate, self.partials[sql]))
        return self.partials[sql]

    def _distinct_count(self, node):
        values = node.this.expressions
        if len(values) != 1:
            raise UnsupportedQueryError("COUNT(DISTINCT ...) of several expressions cannot be split")
        value = values[0]
        if self.distinct is None:
            self.distinct = value
            self.worker_items.append(exp.alias_(value.copy(), f"{_PREFIX}d"))
        elif _shape(self.distinct, self.strip) != _shape(value, self.strip):
            raise UnsupportedQueryError(
                "several COUNT(DISTINCT ...) of different expressions in one SELECT cannot be split over chunks")
        return exp.Count(this=exp.Distinct(expressions=[_column(f"{_PREFIX}d")])), None

    def _aggregate(self, node):
        """(merge expression, typed value or ``None``) of the aggregate ``node``."""
        name = node.key.upper()
        if not isinstance(node, (exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max)) \
                or node.args.get("expressions"):
            raise UnsupportedQueryError(f"the aggregate {node.sql()} cannot be split over chunks")
        if isinstance(node.this, exp.Distinct):
            if not isinstance(node, exp.Count):
                raise UnsupportedQueryError(f"{name}(DISTINCT ...) cannot be split over chunks")
            return self._distinct_count(node)
        if node.this is None:
            raise UnsupportedQueryError(f"{name}() needs an argument: {name}(*) or {name}(expression)")
        if node.this.find(exp.AggFunc):
            raise UnsupportedQueryError(f"nested aggregates cannot be split: {node.sql()}")
        if isinstance(node, exp.Count):
            partial = self._partial(node.copy())
            return (exp.func("COALESCE", exp.Sum(this=_column(partial)), exp.Literal.number(0)),
                    ms.Partial(ms.COUNT, partial))
        if isinstance(node, exp.Avg):
            total = self._partial(exp.Sum(this=node.this.copy()))
            count = self._partial(exp.Count(this=node.this.copy()))
            return (exp.Div(this=exp.Sum(this=_column(total)), expression=exp.Sum(this=_column(count)),
                            typed=False, safe=True),
                    ms.Quotient(ms.Partial(ms.SUM, total), ms.Partial(ms.SUM, count)))
        partial = self._partial(node.copy())
        return type(node)(this=_column(partial)), ms.Partial(node.key, partial)

    def rewrite(self, expression, aliases=None):
        """``expression`` over the partials; ``aliases`` maps select aliases to merge expressions."""
        def replace(node):
            key = self._key(node)
            if key is not None:
                return _column(f"{_PREFIX}g{key}")
            if isinstance(node, exp.AggFunc):
                return self._aggregate(node)[0]
            if isinstance(node, exp.Column) and not node.table and aliases and node.name in aliases:
                return aliases[node.name].copy()
            if isinstance(node, (exp.Column, exp.Star)):
                raise UnsupportedQueryError(
                    f"{node.sql()} must be in GROUP BY or inside an aggregate")
            return node
        return expression.copy().transform(replace)

    def value(self, node, aliases=None):
        """The typed value (``qserv.query.merge_spec``) of ``node`` as ``rewrite`` rewrites it, or
        ``None`` when it is not one the merge kernels compute. ``aliases``: select alias -> value.
        Call after ``rewrite`` of ``node`` (which adds the partials)."""
        key = self._key(node)
        if key is not None:
            return ms.Partial(ms.KEY, f"{_PREFIX}g{key}")
        if isinstance(node, exp.AggFunc):
            return self._aggregate(node)[1]
        if isinstance(node, exp.Column) and not node.table and aliases and node.name in aliases:
            return aliases[node.name]
        if isinstance(node, exp.Coalesce) and len(node.expressions) == 1 and _integer(node.expressions[0]) == 0:
            total = self.value(node.this, aliases)  # COALESCE(SUM(x), 0): the sum, 0 without values
            if isinstance(total, ms.Partial) and total.op in (ms.SUM, ms.COUNT):
                return ms.Partial(ms.COUNT, total.column)
            return None
        if isinstance(node, exp.Div) and not node.args.get("typed"):
            denominator, safe = node.expression, node.args.get("safe")
            if isinstance(denominator, exp.Nullif) and _integer(denominator.expression) == 0:
                denominator, safe = denominator.this, True
            parts = (self.value(node.this, aliases), self.value(denominator, aliases))
            if safe and all(isinstance(p, ms.Partial) and p.op in (ms.SUM, ms.COUNT) for p in parts):
                return ms.Quotient(*parts)
        return None


def _split_aggregates(select):
    parts = _Aggregates(select)
    items, by_alias, outputs, values_by_alias = [], {}, [], {}
    for item in select.expressions:
        merged = parts.rewrite(item.unalias())
        items.append(exp.alias_(merged, _output_name(item), quoted=True))
        outputs.append((_output_name(item), parts.value(item.unalias())))
        if isinstance(item, exp.Alias):
            by_alias[item.alias], values_by_alias[item.alias] = merged, outputs[-1][1]
    merge = _merge_frame(select, items)
    if select.args.get("having"):
        merge.set("having", exp.Having(this=parts.rewrite(select.args["having"].this, by_alias)))
    order, typed_order = [], []
    for ordered in (select.args["order"].expressions if select.args.get("order") else []):
        position = _position(ordered.this, items)
        if position is not None:
            target, value = items[position - 1].this.copy(), outputs[position - 1][1]
        else:
            target = parts.rewrite(ordered.this, by_alias)
            value = parts.value(ordered.this, values_by_alias)
        order.append(_ordered(ordered, target))
        typed_order.append((value, *_direction(ordered)))
    if order:
        merge.set("order", exp.Order(expressions=order))
    keys = [_column(f"{_PREFIX}g{k}") for k in range(len(parts.keys))]
    if keys:
        merge.set("group", exp.Group(expressions=keys))
    worker = _worker_frame(select, parts.worker_items)
    worker_keys = [key.copy() for _, key in parts.keys]
    if parts.distinct is not None:
        worker_keys.append(parts.distinct.copy())
    if worker_keys:
        worker.set("group", exp.Group(expressions=worker_keys))
    return AggregateSplit(worker, merge, _combine_spec(select, parts, outputs, typed_order))


def _direction(ordered):
    """(desc, nulls_first) of an ORDER BY term."""
    return bool(ordered.args.get("desc")), bool(ordered.args.get("nulls_first"))


def _combine_spec(select, parts, outputs, order):
    """The MergeSpec of an aggregate split: GENERAL under HAVING or DISTINCT."""
    if select.args.get("having") or select.args.get("distinct"):
        return ms.GENERAL_SPEC
    keys = tuple(f"{_PREFIX}g{k}" for k in range(len(parts.keys)))
    return ms.combine_spec(outputs, order, keys, _limits(select), {item.alias for item in parts.worker_items})


def _split_rows(select):
    items = select.expressions
    star = len(items) == 1 and items[0].is_star
    if not star and any(item.find(exp.Star) for item in items):
        raise UnsupportedQueryError("SELECT * mixed with other select items cannot be split")
    names = [f"{_PREFIX}c{i}" for i in range(len(items))]
    worker_items = [items[0].copy()] if star else [
        exp.alias_(item.unalias().copy(), name) for item, name in zip(items, names)]
    strip = not select.args.get("joins")
    shapes = [_shape(item.unalias(), strip) for item in items]
    aliases = {item.alias: name for item, name in zip(items, names) if isinstance(item, exp.Alias)}
    order = []
    for ordered in (select.args["order"].expressions if select.args.get("order") else []):
        key, position = ordered.this, _position(ordered.this, items)
        if star:
            if not isinstance(key, exp.Column):
                raise UnsupportedQueryError("SELECT * can only be ordered by columns")
            order.append(_ordered(ordered, _column(key.name)))
            continue
        if position is not None:
            name = names[position - 1]
        elif isinstance(key, exp.Column) and not key.table and key.name in aliases:
            name = aliases[key.name]
        elif _shape(key, strip) in shapes:
            name = names[shapes.index(_shape(key, strip))]
        elif select.args.get("distinct"):
            raise UnsupportedQueryError("SELECT DISTINCT ordered by an expression it does not select")
        else:
            name = f"{_PREFIX}o{len(order)}"
            worker_items.append(exp.alias_(key.copy(), name))
        order.append(_ordered(ordered, _column(name)))
    merge_items = [exp.Star()] if star else [
        exp.alias_(_column(name), _output_name(item), quoted=True) for item, name in zip(items, names)]
    merge = _merge_frame(select, merge_items)
    worker = _worker_frame(select, worker_items)
    if select.args.get("distinct"):
        worker.set("distinct", exp.Distinct())
    if order:
        merge.set("order", exp.Order(expressions=order))
    limits = _limits(select)
    if limits is not None and limits[0] is not None:
        worker.set("limit", exp.Limit(expression=exp.Literal.number(sum(limits))))
        if order:
            worker.set("order", exp.Order(expressions=[o.copy() for o in order]))
    outputs = None if star else tuple((_output_name(item), name) for item, name in zip(items, names))
    partial_names = {item.alias for item in worker_items if isinstance(item, exp.Alias)}
    terms = [(ordered.this.name, *_direction(ordered)) for ordered in order]
    spec = (ms.GENERAL_SPEC if select.args.get("distinct")
            else ms.row_spec(outputs, terms, limits, partial_names))
    return AggregateSplit(worker, merge, spec)


def split_aggregates(select):
    """The worker and merge queries of ``select`` (a normalised tree, not changed), and the
    ``MergeSpec`` of the merge."""
    _check(select)
    clauses = [*select.expressions, select.args.get("having"), select.args.get("order")]
    aggregated = bool(select.args.get("group")) or any(
        clause.find(exp.AggFunc) for clause in clauses if clause)
    if select.args.get("having") and not aggregated:
        raise UnsupportedQueryError("HAVING without GROUP BY or aggregates cannot be split")
    return _split_aggregates(select) if aggregated else _split_rows(select)
