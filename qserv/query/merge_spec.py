"""What the czar's merge of a chunk plan computes, as typed values (pure, no I/O).

The planner (``qserv.query.aggregates.split_aggregates``) writes a merge SELECT over the
concatenated worker partials (``_qserv_partials``) and, next to it, a ``MergeSpec`` saying which
of the shapes the merge kernels answer it is (``qserv.merge.fast_path`` reads only the spec):

- ``CONCAT``: ``SELECT *``: the partials themselves, rows ``[offset, offset + limit)``;
- ``PROJECTION``: ``outputs`` ((name, partial column)): the partial columns renamed, rows
  ``[offset, offset + limit)`` (no ORDER BY: any rows are right);
- ``TOP_K``: the first ``limit`` rows after ``offset`` of the partials ordered by ``order``
  ((partial column, desc, nulls_first); NaN is the greatest float, as in DuckDB), projected as
  ``outputs`` (``None``: every partial column, the order columns then named as the user wrote
  them and matched to the partials' names as DuckDB matches names);
- ``GROUP_COMBINE``: partial rows grouped on the ``keys`` columns (one group of every row without
  keys), ``outputs`` ((name, value)) per group, ordered by ``order`` ((value, desc, nulls_first);
  no order: groups in order of first appearance), rows ``[offset, offset + limit)``. A value is a
  ``Partial`` (a group key's value, or the SUM, COUNT, MIN or MAX of a partial column) or a
  ``Quotient`` of two sums (AVG, or a user's SUM / COUNT; NULL when the denominator is 0 or NULL);
- ``GENERAL``: anything else: the czar's DuckDB runs the merge SELECT (``ChunkPlan.merge``).

A spec holds no literal of the query but ``limit`` and ``offset``, so a plan shared by queries
of one shape takes another LIMIT with ``dataclasses.replace(spec, limit=n, offset=m)``.
"""

from dataclasses import dataclass

CONCAT = "concat"
PROJECTION = "projection"
TOP_K = "top-k"
GROUP_COMBINE = "group-combine"
GENERAL = "general"

KEY, SUM, COUNT, MIN, MAX = "key", "sum", "count", "min", "max"  # Partial.op


@dataclass(frozen=True)
class Partial:
    """``op`` of the partial column ``column`` per group: ``key`` its value (a group key), ``sum``
    SUM (NULL without a value), ``count`` SUM, 0 without a value (COUNT partials, or the user's
    COALESCE(SUM(x), 0)), ``min``, ``max``."""

    op: str
    column: str


@dataclass(frozen=True)
class Quotient:
    """``numerator / denominator`` (both ``sum`` or ``count`` Partials) as a float, NULL when the
    denominator is 0 or either side is NULL."""

    numerator: Partial
    denominator: Partial


@dataclass(frozen=True)
class MergeSpec:
    kind: str
    outputs: tuple | None = None  # ((output name, partial column or value), ...); None: every column
    order: tuple = ()  # ((partial column or value, desc, nulls_first), ...)
    keys: tuple = ()  # group key partial columns (GROUP_COMBINE)
    limit: int | None = None  # LIMIT (None: all rows)
    offset: int = 0

    @property
    def k(self):
        """Rows the merge reads before the cut (LIMIT + OFFSET), ``None`` without LIMIT."""
        return None if self.limit is None else self.limit + self.offset

    def values(self):
        """Every value of a GROUP_COMBINE spec: outputs first, then ORDER BY terms."""
        return [value for _, value in self.outputs] + [value for value, _, _ in self.order]


GENERAL_SPEC = MergeSpec(GENERAL)


def row_spec(outputs, order, limits, partial_names):
    """The spec of a row query's merge (no DISTINCT): ``outputs`` ((name, partial column); ``None``
    for ``SELECT *``), ``order`` ((partial column, desc, nulls_first)), ``limits`` (LIMIT or None,
    OFFSET; ``None`` when not plain integers), ``partial_names`` the partial columns. GENERAL
    without plain limits, for ORDER BY without LIMIT (a full sort) and when an output is named as
    another partial column (ORDER BY would mean the output)."""
    if limits is None:
        return GENERAL_SPEC
    if not order:
        return MergeSpec(CONCAT if outputs is None else PROJECTION, outputs, (), (), *limits)
    if limits[0] is None or any(name in partial_names and name != source for name, source in outputs or ()):
        return GENERAL_SPEC
    return MergeSpec(TOP_K, outputs, tuple(order), (), *limits)


def combine_spec(outputs, order, keys, limits, partial_names):
    """The spec of an aggregate query's merge (no HAVING, no DISTINCT): ``outputs`` ((name, value
    or ``None``)), ``order`` ((value or ``None``, desc, nulls_first)), ``keys`` the group key
    columns. GENERAL when a value is ``None`` (not one the kernels compute), without plain
    ``limits``, and when an output is named as a partial column other than a group key."""
    values = [value for _, value in outputs] + [value for value, _, _ in order]
    if (limits is None or any(value is None for value in values)
            or any(name in partial_names and name not in keys for name, _ in outputs)):
        return GENERAL_SPEC
    return MergeSpec(GROUP_COMBINE, tuple(outputs), tuple(order), tuple(keys), *limits)
