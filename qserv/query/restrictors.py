"""Spatial restrictors: the sky regions every result row's position must lie in (pure, no I/O).

``spatial_restrictors(tree, position_columns)`` looks only at the top-level AND-ed conjuncts of the
WHERE clause of a single SELECT (no WITH): a restriction under OR or NOT, in a subquery, a set
operation or a join condition is not one, and is left alone. Recognised conjuncts (``= 1`` may
also be written ``1 = ...`` or left out):

- ``QSERV_CONTAINS(QSERV_POINT(ra, dec), QSERV_CIRCLE|BOX|POLYGON(...)) = 1`` (BOX in the ADQL
  centre form, ``Box.from_centre``);
- ``QSERV_DISTANCE(QSERV_POINT(ra, dec), QSERV_POINT(...)) < r`` (or ``<=``, either point order,
  or ``r > ...``), and the same with ``scisql_angSep(ra, dec, ...)``: a Circle (r capped at 180);
- ``scisql_s2PtInCircle|Box|Ellipse|CPoly(ra, dec, ...) = 1``;
- ``QSERV_AREASPEC_BOX|CIRCLE|ELLIPSE|POLY(...)``: they restrict the director table and name no
  column, so their ``table`` is None;
- constant bounds on both ends of RA (within [0, 360]) and of Dec of one table, from ``BETWEEN``,
  ``>=``, ``>``, ``<=``, ``<``: a Box (Dec bounds clipped to [-90, 90]).

``ra`` and ``dec`` are columns of a table of ``position_columns`` (a name or alias of a table of
the FROM clause -> its (ra column, dec column)); every other argument must be a constant: numeric
literals, negated or combined with + - * / (folded here). Anything else is not a restrictor.
A constant region that is invalid raises the region's error (``InvalidRegionError``).
"""

import operator
from dataclasses import dataclass, field

import numpy as np
from sqlglot import exp

from qserv.errors import InvalidRegionError
from qserv.query.conjuncts import identifier_matches, keys_of_from_tables, top_level_conjuncts
from qserv.sphere import Box, Circle, Ellipse, Polygon, chunk_and_subchunk_coverage
from qserv.sql.adql import is_call, scisql_vertices


@dataclass(frozen=True)
class Restrictor:
    """``region`` holds the position of every result row of ``table`` (a key of
    ``position_columns``; None for a Qserv areaspec, which restricts the director table).
    ``nodes`` are the WHERE conjuncts it comes from."""

    region: object
    table: str | None
    nodes: tuple = field(repr=False)

    @property
    def is_areaspec(self):
        return self.table is None


def _polygon(*coordinates):
    if len(coordinates) % 2:
        raise InvalidRegionError(
            f"polygon needs pairs of coordinates, got {len(coordinates)} numbers")
    return Polygon(coordinates[0::2], coordinates[1::2])


def _scisql_polygon(*coordinates):
    """The polygon of ``scisql_s2PtInCPoly`` / ``qserv_areaspec_poly`` vertices (``scisql_vertices``)."""
    if len(coordinates) % 2:
        raise InvalidRegionError(
            f"polygon needs pairs of coordinates, got {len(coordinates)} numbers")
    return Polygon(*scisql_vertices(coordinates))


# Upper-case function name -> (region from its constant arguments, argument count or None for any).
_CONTAINS_REGIONS = {
    "QSERV_CIRCLE": (Circle, 3),
    "QSERV_BOX": (Box.from_centre, 4),
    "QSERV_POLYGON": (_polygon, None),
}
_AREASPECS = {
    "QSERV_AREASPEC_BOX": (Box, 4),
    "QSERV_AREASPEC_CIRCLE": (Circle, 3),
    "QSERV_AREASPEC_ELLIPSE": (Ellipse, 5),
    "QSERV_AREASPEC_POLY": (_scisql_polygon, None),
}
_SCISQL_REGIONS = {
    "SCISQL_S2PTINCIRCLE": (Circle, 3),
    "SCISQL_S2PTINBOX": (Box, 4),
    "SCISQL_S2PTINELLIPSE": (Ellipse, 5),
    "SCISQL_S2PTINCPOLY": (_scisql_polygon, None),
}
_ARITHMETIC = {exp.Add: operator.add, exp.Sub: operator.sub, exp.Mul: operator.mul,
               exp.Div: operator.truediv}
# Comparison with the column on the left -> which bound the constant is; flipped when on the right.
_BOUNDS = {exp.GT: "low", exp.GTE: "low", exp.LT: "high", exp.LTE: "high"}
FLIPPED = {exp.GT: exp.LT, exp.GTE: exp.LTE, exp.LT: exp.GT, exp.LTE: exp.GTE}


def constant(node):
    """The float value of a constant numeric expression, or None if it is not one."""
    if isinstance(node, exp.Paren):
        return constant(node.this)
    if isinstance(node, exp.Literal):
        return float(node.this) if node.is_number else None
    if isinstance(node, exp.Neg):
        value = constant(node.this)
        return None if value is None else -value
    if type(node) in _ARITHMETIC:
        left, right = constant(node.this), constant(node.expression)
        if left is None or right is None or (isinstance(node, exp.Div) and right == 0.0):
            return None  # x / 0 is NULL
        return _ARITHMETIC[type(node)](left, right)
    return None


def _constants(nodes):
    values = [constant(node) for node in nodes]
    return None if any(value is None for value in values) else values


def _build(kinds, call, args):
    """The region of a recognised call with constant ``args``; None when they are not constant."""
    build, count = kinds[call.name.upper()]
    values = _constants(args)
    if values is None:
        return None
    if count is not None and len(values) != count:
        raise InvalidRegionError(f"{call.name} takes {count} region arguments, got {len(values)}")
    return build(*values)


class _Positions:
    """Which position column of which table of ``position_columns`` a column reference is."""

    def __init__(self, select, position_columns):
        self.columns = keys_of_from_tables(select, position_columns)

    def axis_of(self, column):
        """(table key, 0 for RA or 1 for Dec) of a column reference, or None (also if ambiguous)."""
        if not isinstance(column, exp.Column) or column.args.get("db"):
            return None
        qualifier = column.args.get("table")
        found = [(key, axis) for key, names in self.columns.items()
                 if qualifier is None or identifier_matches(qualifier, key)
                 for axis in (0, 1) if identifier_matches(column.this, names[axis])]
        return found[0] if len(found) == 1 else None

    def table_of(self, ra, dec):
        """The table key whose (RA, Dec) columns ``ra`` and ``dec`` are, or None."""
        ra_axis, dec_axis = self.axis_of(ra), self.axis_of(dec)
        if ra_axis and dec_axis and ra_axis == (dec_axis[0], 0) and dec_axis[1] == 1:
            return ra_axis[0]
        return None

    def point_table(self, node):
        """The table key of ``QSERV_POINT(ra, dec)`` on its position columns, or None."""
        if is_call(node, "QSERV_POINT") and len(node.expressions) == 2:
            return self.table_of(*node.expressions)
        return None


def _true_call(node):
    """The call of ``f(...) = 1``, ``1 = f(...)`` or a bare ``f(...)``, else None."""
    if isinstance(node, exp.EQ):
        for call, one in ((node.this, node.expression), (node.expression, node.this)):
            if constant(one) == 1.0 and isinstance(call, exp.Anonymous):
                return call
        return None
    return node if isinstance(node, exp.Anonymous) else None


def _call_restriction(call, positions):
    """(region, table) of a CONTAINS, scisql_s2PtIn* or areaspec call, or None."""
    name = call.name.upper()
    args = call.expressions
    if name in _AREASPECS:
        region = _build(_AREASPECS, call, args)
        return None if region is None else (region, None)
    if name == "QSERV_CONTAINS" and len(args) == 2 and is_call(args[1], *_CONTAINS_REGIONS):
        table = positions.point_table(args[0])
        region = table and _build(_CONTAINS_REGIONS, args[1], args[1].expressions)
    elif name in _SCISQL_REGIONS and len(args) >= 2:
        table = positions.table_of(*args[:2])
        region = table and _build(_SCISQL_REGIONS, call, args[2:])
    else:
        return None
    return None if region is None else (region, table)


def _distance_circle(node, positions):
    """(Circle, table) of ``distance(position, constant point) < r`` (any spelling), or None."""
    if type(node) not in FLIPPED:
        return None
    distance, radius = node.this, node.expression
    if _BOUNDS[type(node)] == "low":
        distance, radius = radius, distance
    radius, args = constant(radius), distance.expressions
    if radius is None:
        return None
    if is_call(distance, "QSERV_DISTANCE") and len(args) == 2:
        pairs = [(positions.point_table(p), q.expressions)
                 for p, q in (args, args[::-1]) if is_call(q, "QSERV_POINT")]
    elif is_call(distance, "SCISQL_ANGSEP") and len(args) == 4:
        pairs = [(positions.table_of(*args[:2]), args[2:]),
                 (positions.table_of(*args[2:]), args[:2])]
    else:
        return None
    for table, centre in pairs:
        centre = _constants(centre)
        if table and centre is not None and len(centre) == 2:
            return Circle(*centre, min(radius, 180.0)), table
    return None


def _bound(node, positions):
    """(table key, axis, low, high) of a constant bound on a position column, or None."""
    if isinstance(node, exp.Between) and not node.args.get("symmetric"):
        column, low, high = node.this, constant(node.args["low"]), constant(node.args["high"])
        if low is None or high is None:
            return None
    elif type(node) in _BOUNDS:
        kind, column, value = type(node), node.this, constant(node.expression)
        if value is None:
            kind, column, value = FLIPPED[kind], node.expression, constant(node.this)
        if value is None:
            return None
        low, high = (value, None) if _BOUNDS[kind] == "low" else (None, value)
    else:
        return None
    axis = positions.axis_of(column)
    return None if axis is None else (*axis, low, high)


def _bounds_boxes(bounds):
    """Restrictors for the tables whose RA and Dec are bounded on both sides: [(key, axis, low,
    high, node)] -> [Restrictor(Box)]. Empty or out-of-range RA bounds give none."""
    found = {}
    for key, axis, low, high, node in bounds:
        table = found.setdefault(key, {"ranges": [[None, None], [None, None]], "nodes": []})
        known = table["ranges"][axis]
        if low is not None:
            known[0] = low if known[0] is None else max(known[0], low)
        if high is not None:
            known[1] = high if known[1] is None else min(known[1], high)
        table["nodes"].append(node)
    boxes = []
    for key, table in found.items():
        (ra_min, ra_max), (dec_min, dec_max) = table["ranges"]
        if None in (ra_min, ra_max, dec_min, dec_max) or not 0.0 <= ra_min <= ra_max <= 360.0:
            continue
        dec_min, dec_max = max(dec_min, -90.0), min(dec_max, 90.0)
        if dec_min <= dec_max:
            box = Box(ra_min, dec_min, ra_max, dec_max)
            boxes.append(Restrictor(box, key, tuple(table["nodes"])))
    return boxes


def spatial_restrictors(tree, position_columns):
    """The Restrictors of the top-level WHERE conjuncts of a single SELECT (module doc);
    ``position_columns`` maps a table name or alias of its FROM clause to (ra column, dec column).
    """
    if not isinstance(tree, exp.Select) or tree.args.get("with_") or not tree.args.get("where"):
        return []
    positions = _Positions(tree, position_columns)
    restrictors, bounds = [], []
    for node in top_level_conjuncts(tree.args["where"].this):
        call = _true_call(node)
        found = _call_restriction(call, positions) if call is not None else None
        found = found or _distance_circle(node, positions)
        if found:
            restrictors.append(Restrictor(*found, (node,)))
            continue
        bound = _bound(node, positions)
        if bound:
            bounds.append((*bound, node))
    return restrictors + _bounds_boxes(bounds)


def chunks_for(restrictors, chunk_order, subchunk_order):
    """Sorted chunk ids that may hold rows satisfying every restrictor (the intersection of their
    coverages), or None when there are no restrictors (all chunks). Only meaningful when the
    restrictors constrain rows stored in the same chunk (one table, or a director and its children).
    """
    chunks = None
    for restrictor in restrictors:
        covered, _ = chunk_and_subchunk_coverage(restrictor.region, chunk_order, subchunk_order)
        chunks = covered if chunks is None else np.intersect1d(chunks, covered)
    return chunks
