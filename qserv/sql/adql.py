"""The two input languages as sqlglot dialects, and the normalised geometry of the query tree.

Normalised tree conventions (shared by ``qserv.sql.dialects.parse`` and ``qserv.sql.emit``):

- ADQL ``TOP n`` is the Select's ``limit`` (an ``exp.Limit``), as Qserv's ``LIMIT n``.
- ADQL ``LOG(x)`` is ``exp.Ln`` (natural log), ``LOG10(x)`` is ``exp.Log(this=10, ...)``.
- Every ``/`` is an ``exp.Div`` with ``typed=False, safe=True``: true (floating-point) division
  whose divisor 0 gives NULL, as in MySQL; MySQL ``a DIV b`` is ``exp.IntDiv`` (truncating).
- Geometry is ``exp.Anonymous`` with an upper-case ``QSERV_*`` name and no coordinate system:
  ``QSERV_POINT(ra, dec)``, ``QSERV_CIRCLE(ra, dec, r)``, ``QSERV_BOX(ra, dec, width, height)`` (ADQL
  centre form, see ``Box.from_centre``), ``QSERV_POLYGON(ra1, dec1, ra2, dec2, ...)``,
  ``QSERV_CONTAINS(point, region)`` (also what INTERSECTS of a point and a region becomes),
  ``QSERV_DISTANCE(point, point)`` (the 4-number form gets two points), ``QSERV_COORD1(point)``
  and ``QSERV_COORD2(point)``. All angles are in degrees.
- Qserv restrictors are ``exp.Anonymous`` named ``QSERV_AREASPEC_BOX/CIRCLE/ELLIPSE/POLY`` with
  their arguments as written; other functions (``scisql_*``) keep the name the user wrote.
- Identifiers keep their spelling and their ``quoted`` flag: unquoted ones are case-insensitive
  (``qserv.sql.dialects.resolve_identifiers`` gives them the schema's spelling).
"""

from sqlglot import exp, parser, tokens
from sqlglot.dialects.dialect import Dialect
from sqlglot.dialects.mysql import MySQL

from qserv.errors import QuerySyntaxError


class ADQL(Dialect):
    """ADQL 2.1: standard SQL identifiers and strings, ``||``, ``TOP n``, ``LOG`` = natural log."""

    class Tokenizer(tokens.Tokenizer):
        KEYWORDS = {**tokens.Tokenizer.KEYWORDS, "TOP": tokens.TokenType.TOP}

    class Parser(parser.Parser):
        LOG_DEFAULTS_TO_LN = True
        # kept as a plain call so a wrong argument count is reported, not dropped
        FUNCTIONS = {**parser.Parser.FUNCTIONS,
                     "CONTAINS": lambda args: exp.Anonymous(this="CONTAINS", expressions=args)}


DIALECTS = {"adql": ADQL, "qserv": MySQL}

COORDINATE_SYSTEMS = ("ICRS", "")
# ADQL name -> (normalised name, argument counts without the coordinate system)
_GEOMETRY = {
    "POINT": ("QSERV_POINT", (2,)),
    "CIRCLE": ("QSERV_CIRCLE", (3,)),
    "BOX": ("QSERV_BOX", (4,)),
    "POLYGON": ("QSERV_POLYGON", None),  # an even number, at least 6
    "COORD1": ("QSERV_COORD1", (1,)),
    "COORD2": ("QSERV_COORD2", (1,)),
}
AREASPECS = ("QSERV_AREASPEC_BOX", "QSERV_AREASPEC_CIRCLE", "QSERV_AREASPEC_ELLIPSE",
             "QSERV_AREASPEC_POLY")
_REFUSED = ("AREA", "CENTROID", "REGION", "IN_UNIT", "COORDSYS")


def scisql_vertices(values):
    """(ra list, dec list) of a Qserv/scisql polygon's vertex numbers (ra1, dec1, ra2, dec2, ...)
    as scisql reads them: RA modulo 360, and a vertex equal to the one before it (a list closed by
    repeating its first vertex) dropped, as scisql's zero-length edges constrain nothing."""
    ras = [ra % 360.0 for ra in values[0::2]]
    decs = list(values[1::2])
    kept = [0] + [i for i in range(1, len(ras)) if (ras[i], decs[i]) != (ras[i - 1], decs[i - 1])]
    if len(kept) > 1 and (ras[kept[-1]], decs[kept[-1]]) == (ras[0], decs[0]):
        kept.pop()
    return [ras[i] for i in kept], [decs[i] for i in kept]


def geometry(name, args):
    return exp.Anonymous(this=name, expressions=list(args))


def is_call(node, *names):
    return isinstance(node, exp.Anonymous) and node.name.upper() in names


def _without_system(name, args):
    """Drop a leading coordinate system literal, refusing any but ICRS (or empty)."""
    if args and isinstance(args[0], exp.Literal) and args[0].is_string:
        system = args[0].name.strip().upper()
        if system not in COORDINATE_SYSTEMS:
            raise QuerySyntaxError(
                f"{name}: coordinate system {args[0].name!r} is not supported "
                f"(only 'ICRS' or '', i.e. ICRS degrees)")
        return args[1:]
    return args


def _normalise_call(node):
    name = node.name.upper()
    if name in _REFUSED:
        raise QuerySyntaxError(f"ADQL function {name} is not supported")
    if name in AREASPECS:
        return geometry(name, node.expressions)
    if name in _GEOMETRY:
        target, counts = _GEOMETRY[name]
        args = _without_system(name, node.expressions)
        if counts is None:
            ok = len(args) >= 6 and len(args) % 2 == 0
        else:
            ok = len(args) in counts
        if not ok:
            raise QuerySyntaxError(f"{name}: wrong number of arguments ({len(node.expressions)})")
        return geometry(target, args)
    if name == "DISTANCE":
        args = node.expressions
        if len(args) == 4:
            args = [geometry("QSERV_POINT", args[:2]), geometry("QSERV_POINT", args[2:])]
        if len(args) != 2:
            raise QuerySyntaxError(f"DISTANCE takes 2 points or 4 numbers, got {len(args)} arguments")
        return geometry("QSERV_DISTANCE", args)
    if name == "CONTAINS":
        return _point_in_region("CONTAINS", *node.expressions)
    if name == "INTERSECTS":
        return _point_in_region("INTERSECTS", *node.expressions)
    return node


def _point_in_region(construct, *args):
    if len(args) != 2:
        raise QuerySyntaxError(f"{construct} takes 2 arguments, got {len(args)}")
    first, second = args
    if construct == "INTERSECTS" and is_call(second, "QSERV_POINT"):
        first, second = second, first
    if not is_call(first, "QSERV_POINT") or is_call(second, "QSERV_POINT"):
        raise QuerySyntaxError(
            f"{construct} is supported only between a POINT and a CIRCLE, BOX or POLYGON")
    return geometry("QSERV_CONTAINS", [first, second])


def normalise(tree):
    """A freshly parsed tree in normalised form (children first, so parents see normalised args)."""
    for node in reversed(list(tree.walk(bfs=False))):
        new = _normalise_node(node)
        if new is not node:
            if node is tree:
                return new
            node.replace(new)
    return tree


def _normalise_node(node):
    if isinstance(node, exp.Anonymous):
        return _normalise_call(node)
    if isinstance(node, exp.Contains):
        return _point_in_region("CONTAINS", node.this, node.expression)
    if isinstance(node, exp.Div):
        return exp.Div(this=node.this, expression=node.expression, typed=False, safe=True)
    return node
