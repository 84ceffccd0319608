"""SQL text for the workers from a normalised tree (conventions in ``qserv.sql.adql``).

``to_sql(tree, backend)`` rewrites the ADQL geometry into the worker functions of
``qserv.sql.worker_functions`` and maps functions to the same meaning on DuckDB and PostgreSQL:

- ``CONTAINS(POINT, CIRCLE)`` -> ``scisql_s2ptincircle(...)``; ``BOX`` (centre, width, height) ->
  ``scisql_s2ptinbox`` on the RA/Dec box of ``Box.from_centre``, computed here for literal
  arguments and in SQL otherwise; ``POLYGON`` (literal vertices only) -> the 1/0 of
  ``polygon_condition_sql``. ``DISTANCE`` -> ``scisql_angsep``; ``COORD1/2`` -> the coordinate.
- ``/`` is floating-point division and ``x / 0`` is NULL; ``DIV`` truncates, on both backends.
- The ``QSERV_MYSQL_*`` calls of ``qserv.sql.mysql`` (Qserv SQL's MySQL semantics) are expanded.
- ``LOG10`` -> ``log10``, ``LOG(b, x)`` -> ``ln(x) / ln(b)``; ``ROUND`` and ``TRUNCATE`` on
  PostgreSQL go through NUMERIC (its double ``round`` breaks ties to even, DuckDB's away from zero).
- Every identifier is double-quoted as it is spelt in the tree: run
  ``qserv.sql.dialects.resolve_identifiers`` first so unquoted names carry the schema's spelling.

Restrictors (``QSERV_AREASPEC_*``) are the planner's to consume: one left in the tree is an error.
"""

from sqlglot import exp

from qserv.sphere.box import Box
from qserv.sphere.polygon import Polygon
from qserv.errors import QuerySyntaxError
from qserv.sql.adql import AREASPECS, is_call, scisql_vertices
from qserv.sql.mysql import CALLS as MYSQL_CALLS, expand as mysql_sql
from qserv.sql.worker_functions import BACKENDS, polygon_condition_sql

def constant(node):
    """The float value of a numeric literal (possibly negated or parenthesised), else None."""
    if isinstance(node, exp.Paren):
        return constant(node.this)
    if isinstance(node, exp.Neg):
        value = constant(node.this)
        return None if value is None else -value
    if isinstance(node, exp.Literal) and not node.is_string:
        return float(node.name)
    return None


def _point(node, construct):
    if not is_call(node, "QSERV_POINT"):
        raise QuerySyntaxError(f"{construct} needs a POINT(ra, dec) argument")
    return node.expressions


def _number(value):
    return exp.Literal.number(repr(float(value)))


def _modulo_360(sql_value):
    return exp.maybe_parse(f"(({sql_value}) - 360 * floor(({sql_value}) / 360))", dialect="duckdb")


def _box_bounds(ra, dec, width, height):
    """(ra_min, dec_min, ra_max, dec_max) of ``Box.from_centre`` as expressions."""
    values = [constant(arg) for arg in (ra, dec, width, height)]
    if None not in values:
        box = Box.from_centre(*values)
        return [_number(v) for v in (box.ra_min_deg, box.dec_min_deg, box.ra_max_deg, box.dec_max_deg)]
    ra, dec, width, height = (f"({arg.sql('duckdb', identify=True)})" for arg in (ra, dec, width, height))
    text = [
        f"CASE WHEN {width} >= 360 THEN 0 ELSE {_modulo_360(f'{ra} - {width} / 2').sql('duckdb')} END",
        f"greatest({dec} - {height} / 2, -90)",
        f"CASE WHEN {width} >= 360 THEN 360 ELSE {_modulo_360(f'{ra} + {width} / 2').sql('duckdb')} END",
        f"least({dec} + {height} / 2, 90)",
    ]
    return [exp.maybe_parse(part, dialect="duckdb") for part in text]


def _in_polygon(ra, dec, vertices, construct, backend, scisql=False):
    """1/0 of the point in the polygon of literal ``vertices`` (ra1, dec1, ra2, dec2, ...); with
    ``scisql``, the vertices are read as scisql reads them (``scisql_vertices``)."""
    values = [constant(arg) for arg in vertices]
    if None in values:
        raise QuerySyntaxError(f"{construct} vertices must be numeric literals")
    if len(values) < 6 or len(values) % 2:
        raise QuerySyntaxError(f"{construct} needs at least 3 (ra, dec) vertex pairs, got {len(values)} numbers")
    polygon = Polygon(*scisql_vertices(values)) if scisql else Polygon(values[0::2], values[1::2])
    condition = polygon_condition_sql(
        ra.sql(backend, identify=True), dec.sql(backend, identify=True), polygon, backend)
    return exp.maybe_parse(f"CAST({condition} AS INTEGER)", dialect=backend)


def _contains(node, backend):
    (ra, dec), region = _point(node.expressions[0], "CONTAINS"), node.expressions[1]
    if is_call(region, "QSERV_CIRCLE"):
        return exp.Anonymous(this="scisql_s2ptincircle", expressions=[ra, dec, *region.expressions])
    if is_call(region, "QSERV_BOX"):
        return exp.Anonymous(this="scisql_s2ptinbox", expressions=[ra, dec, *_box_bounds(*region.expressions)])
    if is_call(region, "QSERV_POLYGON"):
        return _in_polygon(ra, dec, region.expressions, "POLYGON", backend)
    raise QuerySyntaxError("CONTAINS / INTERSECTS: the region must be a CIRCLE, BOX or POLYGON")


def _rewrite_geometry(node, backend):
    if is_call(node, "QSERV_CONTAINS"):
        return _contains(node, backend)
    if is_call(node, "QSERV_DISTANCE"):
        first, second = (_point(arg, "DISTANCE") for arg in node.expressions)
        return exp.Anonymous(this="scisql_angsep", expressions=[*first, *second])
    if is_call(node, "SCISQL_S2PTINCPOLY"):
        if len(node.expressions) < 2:
            raise QuerySyntaxError("scisql_s2PtInCPoly takes a position and polygon vertices")
        ra, dec, *vertices = node.expressions
        return _in_polygon(ra, dec, vertices, "scisql_s2PtInCPoly", backend, scisql=True)
    if is_call(node, "QSERV_COORD1", "QSERV_COORD2"):
        ra, dec = _point(node.expressions[0], node.name.upper()[6:])
        return (ra if node.name.upper() == "QSERV_COORD1" else dec).copy()
    return node


def _postgres_rounding(node, backend):
    """ROUND / TRUNCATE through NUMERIC on PostgreSQL, where they take a digit count only there."""
    if backend != "postgres" or not isinstance(node, (exp.Round, exp.Trunc)):
        return node
    name = "round" if isinstance(node, exp.Round) else "trunc"
    digits = node.args.get("decimals")
    args = [exp.cast(node.this, "DECIMAL"), *([digits] if digits is not None else [])]
    return exp.cast(exp.Anonymous(this=name, expressions=args), "DOUBLE")


def _functions(node, backend):
    if isinstance(node, exp.Rand):
        if node.this is not None:
            raise QuerySyntaxError("RAND(seed) is not supported: use RAND()")
        return exp.Anonymous(this="random", expressions=[])
    if isinstance(node, exp.Log):
        base, value = node.this, node.expression
        if constant(base) == 10.0:
            return exp.Anonymous(this="log10", expressions=[value])
        return exp.Div(this=exp.Ln(this=value), expression=exp.Ln(this=base), typed=False, safe=True)
    if is_call(node, *MYSQL_CALLS):
        return mysql_sql(node, backend)
    if isinstance(node, exp.Anonymous) and node.name.lower().startswith("scisql_"):
        return exp.Anonymous(this=node.name.lower(), expressions=node.expressions)
    return _postgres_rounding(node, backend)


def _rewrite(tree, rule, backend):
    for node in reversed(list(tree.walk(bfs=False))):
        new = rule(node, backend)
        if new is not node:
            if node is tree:
                return new
            node.replace(new)
    return tree


def to_sql(tree, backend, copy=True):
    """The SQL text running ``tree`` on ``backend`` ("duckdb" or "postgres"); ``tree`` is not
    changed unless ``copy`` is false (for a tree the caller owns and discards)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}")
    if copy:
        tree = tree.copy()
    for node in tree.walk():
        if is_call(node, *AREASPECS):
            raise QuerySyntaxError(
                f"{node.name.lower()}(...) must be handled by the planner before SQL is emitted")
    tree = _rewrite(tree, _rewrite_geometry, backend)
    for node in tree.walk():
        if isinstance(node, exp.Anonymous) and node.name.upper().startswith("QSERV_") and \
                not is_call(node, *MYSQL_CALLS):
            shape = node.name.upper()[6:]
            raise QuerySyntaxError(f"{shape} can only be used inside CONTAINS, INTERSECTS, DISTANCE "
                                   "or COORD1/COORD2")
    tree = _rewrite(tree, _functions, backend)
    return tree.sql(backend, identify=True, copy=False)  # ``tree`` is our copy already

