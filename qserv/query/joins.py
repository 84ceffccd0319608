"""Which joins of a single SELECT can run chunk by chunk, and how (pure, no I/O).

``join_shape(select, tables)`` looks at the FROM clause of a SELECT whose sources are all catalog
tables and says which aliases read the rows a chunk owns and which one (at most) also reads the
chunk's overlap. A result row then comes from exactly one chunk, so the union over chunks is the
answer. That holds when every pair of sharded aliases is connected by

- an equality of placement keys within one director's family (``o.objectId = s.objectId``, also
  ``USING (objectId)``): a director's rows and its children without their own position, or whose
  position is the director's (``--director-position``, checked at ingest), are stored in the chunk
  of the director row; or
- a director-key equality of a director and its child placed near it (own position, each row with a
  director within the recorded ``director_distance_arcsec`` of it, at most the overlap radius): the
  director reads the chunk's own and overlap rows, as for a near-neighbour condition of that radius,
  and the child row's chunk decides; or
- one near-neighbour condition ``DISTANCE(POINT(a.ra, a.dec), POINT(b.ra, b.dec)) < r`` (or
  ``scisql_angSep(...) < r``) as a top-level conjunct, with ``b`` a director table whose overlap is
  at least ``r``: ``b`` then reads the chunk's own and overlap rows, so no pair is lost at edges; or
- a match table's key of its second director (``m.id2 = d2.id``): a match row is stored in the chunk of
  its first director's row and, flagged as overlap, in its second's; alone on its side, the match
  table reads both copies (each pair meets in the second director's chunk only); joined to its first
  director too, the second director reads its overlap as above, with the recorded largest distance
  between matched rows as radius (the match table's own copies are in the first director's chunks).

Replicated tables are on every worker and join anything. RIGHT and FULL joins, SEMI/ANTI joins and a
LEFT JOIN whose preserved side does not start with a sharded table reading own rows would count rows
once per chunk, so they are refused, as is everything else: ``UnsupportedQueryError`` naming it.
"""

from dataclasses import dataclass

from sqlglot import exp

from qserv.errors import UnsupportedQueryError
from qserv.query.conjuncts import identifier_matches, top_level_conjuncts
from qserv.query.placement_joins import (
    is_near_child, join_family, join_key, match_edge, match_join, near_child_edge, near_child_radius_deg)
from qserv.query.restrictors import constant
from qserv.sql.adql import is_call

_DISTANCE_BOUNDS = {exp.LT: False, exp.LTE: False, exp.GT: True, exp.GTE: True}  # -> flipped


@dataclass(frozen=True)
class JoinShape:
    aliases: dict  # alias -> TableInfo, in FROM order
    overlap_alias: str | None = None  # reads own + overlap rows (near-neighbour partner)
    radius_deg: float | None = None
    near_alias: str | None = None  # the other side of the near-neighbour condition

    @property
    def sharded(self):
        return [alias for alias, info in self.aliases.items() if info.sharded]

    @property
    def primary(self):
        """Sharded aliases reading only the rows their chunk owns."""
        return [alias for alias in self.sharded if alias != self.overlap_alias]


def source_tables(select):
    """[(alias, exp.Table)] of the FROM clause and joins, in order; None if one is not a table."""
    sources = [select.args.get("from_")] + list(select.args.get("joins") or [])
    found = []
    for source in sources:
        if source is None:
            continue
        if not isinstance(source.this, exp.Table):
            return None
        found.append((source.this.alias_or_name, source.this))
    return found


def table_key(table):
    return f"{table.args['db'].name}.{table.name}" if table.args.get("db") else table.name


class _Columns:
    """Which alias a column reference belongs to."""

    def __init__(self, aliases):
        self.aliases = aliases

    def alias_of(self, column):
        if not isinstance(column, exp.Column) or column.args.get("db"):
            return None
        qualifier = column.args.get("table")
        found = [alias for alias, info in self.aliases.items()
                 if (qualifier is None or identifier_matches(qualifier, alias))
                 and any(identifier_matches(column.this, name) for name in info.column_names)]
        return found[0] if len(found) == 1 else None

    def is_column(self, node, alias, name):
        return (name is not None and self.alias_of(node) == alias
                and identifier_matches(node.this, name))


def _key_edge(node, columns):
    """(a, b) for ``a.key = b.key`` on the placement keys of one family, else None."""
    if not isinstance(node, exp.EQ):
        return None
    a, b = columns.alias_of(node.this), columns.alias_of(node.expression)
    if a is None or b is None or a == b:
        return None
    info_a, info_b = columns.aliases[a], columns.aliases[b]
    if join_family(info_a) is None or join_family(info_a) != join_family(info_b):
        return None
    if columns.is_column(node.this, a, join_key(info_a)) and \
            columns.is_column(node.expression, b, join_key(info_b)):
        return a, b
    return None


def _position_alias(ra, dec, columns):
    alias = columns.alias_of(ra)
    if alias is None or columns.aliases[alias].position is None:
        return None
    ra_name, dec_name = columns.aliases[alias].position
    if columns.is_column(ra, alias, ra_name) and columns.is_column(dec, alias, dec_name):
        return alias
    return None


def _distance_condition(node):
    """([point, point], radius node) of ``distance(point, point) < r`` (or r > distance), where a
    point is [ra node, dec node]; else None."""
    if type(node) not in _DISTANCE_BOUNDS:
        return None
    distance, radius = node.this, node.expression
    if _DISTANCE_BOUNDS[type(node)]:
        distance, radius = radius, distance
    if is_call(distance, "QSERV_DISTANCE") and len(distance.expressions) == 2 and \
            all(is_call(p, "QSERV_POINT") and len(p.expressions) == 2 for p in distance.expressions):
        return [p.expressions for p in distance.expressions], radius
    if is_call(distance, "SCISQL_ANGSEP") and len(distance.expressions) == 4:
        args = distance.expressions
        return [args[:2], args[2:]], radius
    return None


def _radius_deg(node, radius):
    value = constant(radius)
    if value is None:
        raise UnsupportedQueryError(
            f"the near-neighbour radius must be a constant: {node.sql()}")
    return value


def _near_neighbour_edge(node, columns):
    """(a, b, radius_deg) of a distance condition between the positions of two aliases, else None."""
    found = _distance_condition(node)
    if found is None:
        return None
    points, radius = found
    a, b = (_position_alias(*point, columns) for point in points)
    if a is None or b is None or a == b:
        return None
    return a, b, _radius_deg(node, radius)


@dataclass(frozen=True)
class InlineCrossmatch:
    """``DISTANCE(POINT(u.ra, u.dec), POINT(t.ra, t.dec)) < r`` between an inline table ``u`` (an
    uploaded list of positions) and a positioned sharded table ``t``: only the chunks within ``r``
    of some row of ``u`` can hold a pair, and each chunk needs only those rows of ``u``."""

    alias: str  # of the inline table
    ra_column: str
    dec_column: str
    radius_deg: float
    partner: str  # alias of the sharded table


def _plain_column(node, columns):
    """(alias, column name) of a column reference of an inline table, else None."""
    alias = columns.alias_of(node)
    if alias is None or not columns.aliases[alias].inline:
        return None
    name = next(n for n in columns.aliases[alias].column_names if identifier_matches(node.this, n))
    return alias, name


def inline_crossmatch(select, shape):
    """The InlineCrossmatch of ``select`` (a top-level WHERE or inner-join condition), else None.
    Not with a LEFT JOIN: rows without a partner would then be lost with their chunks."""
    if any((join.args.get("side") or "").upper() for join in select.args.get("joins") or []):
        return None
    columns = _Columns(shape.aliases)
    for node in _conditions(select):
        found = _distance_condition(node)
        if found is None:
            continue
        points, radius = found
        for inline_point, other in (points, points[::-1]):
            ra, dec = (_plain_column(value, columns) for value in inline_point)
            partner = _position_alias(*other, columns)
            if ra and dec and ra[0] == dec[0] and partner in shape.primary:
                return InlineCrossmatch(ra[0], ra[1], dec[1], _radius_deg(node, radius), partner)
    return None


def _conditions(select):
    where = select.args.get("where")
    nodes = list(top_level_conjuncts(where.this)) if where else []
    for join in select.args.get("joins") or []:
        if join.args.get("on"):
            nodes.extend(top_level_conjuncts(join.args["on"]))
    return nodes


def _using_edges(select, aliases, near_children):
    """Placement-key edges of ``USING (...)``; near-child edges are appended to ``near_children``."""
    edges = []
    order = list(aliases)
    for join in select.args.get("joins") or []:
        joined = join.this.alias_or_name
        for identifier in join.args.get("using") or []:
            for earlier in order[:order.index(joined)]:
                a, b = aliases[earlier], aliases[joined]
                if join_family(a) and join_family(a) == join_family(b) and join_key(a) and join_key(b) \
                        and identifier_matches(identifier, join_key(a)) \
                        and identifier_matches(identifier, join_key(b)):
                    edges.append((earlier, joined))
                for c, o in ((earlier, joined), (joined, earlier)):
                    if is_near_child(aliases[c], aliases[o]) \
                            and identifier_matches(identifier, aliases[c].director_key) \
                            and identifier_matches(identifier, aliases[o].id_column):
                        near_children.append((c, o))
    return edges


def _check_join_kinds(select, shape):
    joins = select.args.get("joins") or []
    first = next(iter(shape.aliases))
    for join in joins:
        side, kind = (join.args.get("side") or "").upper(), (join.args.get("kind") or "").upper()
        if kind in ("SEMI", "ANTI", "ASOF") or side in ("RIGHT", "FULL"):
            raise UnsupportedQueryError(
                f"{side or kind} JOIN with a sharded table cannot run chunk by chunk")
        if side == "LEFT" and (first not in shape.primary):
            raise UnsupportedQueryError(
                "LEFT JOIN needs a sharded table read by its own rows first in FROM "
                f"(here {shape.aliases[first].key} comes first)")


class _Components:
    def __init__(self, items):
        self.parent = {item: item for item in items}

    def find(self, item):
        while self.parent[item] != item:
            item = self.parent[item]
        return item

    def union(self, a, b):
        self.parent[self.find(a)] = self.find(b)

    def groups(self):
        found = {}
        for item in self.parent:
            found.setdefault(self.find(item), []).append(item)
        return list(found.values())


def join_shape(select, tables):
    """The JoinShape of ``select`` (sources resolved to ``tables`` keys: "db.table" -> TableInfo)."""
    aliases = {alias: tables[table_key(table)] for alias, table in source_tables(select)}
    sharded = [alias for alias, info in aliases.items() if info.sharded]
    shape = JoinShape(aliases)
    if len(sharded) > 1:
        shape = _multi_table_shape(select, aliases, sharded)
    if sharded:
        _check_join_kinds(select, shape)
    return shape


def _multi_table_shape(select, aliases, sharded):
    databases = sorted({aliases[alias].database for alias in sharded})
    if len(databases) > 1:
        raise UnsupportedQueryError(
            f"sharded tables of different databases ({', '.join(databases)}) cannot be joined: "
            "their chunks live on different workers")
    columns = _Columns(aliases)
    components = _Components(sharded)
    near, near_children, match_edges = [], [], []
    for node in _conditions(select):
        edge = _key_edge(node, columns)
        if edge and all(alias in components.parent for alias in edge):
            components.union(*edge)
            continue
        child_edge = near_child_edge(node, columns)
        if child_edge:
            near_children.append(child_edge)
            continue
        second = match_edge(node, columns)
        if second:
            match_edges.append(second)
            continue
        found = _near_neighbour_edge(node, columns)
        if found:
            near.append(found)
    for edge in _using_edges(select, aliases, near_children):
        components.union(*edge)
    refusals, derived = [], {}  # derived: near pairs from placement -> what the join is
    left_joined = {join.this.alias_or_name for join in select.args.get("joins") or []
                   if (join.args.get("side") or "").upper() == "LEFT"}
    has_left = bool(left_joined)
    for child, director in near_children:
        radius = near_child_radius_deg(aliases[child], aliases[director])
        if {child, director} & left_joined:  # the same-chunk and zone conditions would drop its rows
            radius = (f"LEFT JOIN of {aliases[child].key} and its director {aliases[director].key} cannot run "
                      f"chunk by chunk ({aliases[child].key} is placed near its director, not with it): "
                      "use an inner join")
        if isinstance(radius, str):
            refusals.append(radius)
        else:
            near.append((child, director, radius))
            derived[(child, director)] = f"the join of {aliases[child].key} and its director {aliases[director].key}"
    groups = components.groups()
    for match, partner in match_edges:
        refusal, all_copies = match_join(aliases, groups, match, partner, left_joined, near)
        if all_copies:
            return JoinShape(aliases, overlap_alias=match, near_alias=partner)
        if refusal:
            refusals.append(refusal)
        elif near and near[-1][1] == partner:
            derived[near[-1][:2]] = (f"the join of {aliases[match].director} and {aliases[partner].key} through "
                                     f"the match table {aliases[match].key}")
    anchor = list(aliases)[0] if has_left else None
    if len(groups) == 1:
        return JoinShape(aliases)
    if len(groups) == 2:
        for a, b, radius in near:
            if components.find(a) == components.find(b):
                continue
            for inner, outer in ((a, b), (b, a)):
                if [outer] in groups and _can_read_overlap(aliases, inner, outer, anchor):
                    _check_radius(aliases[outer], radius)
                    return JoinShape(aliases, outer, radius, inner)
        if refusals:
            raise UnsupportedQueryError(refusals[0])
        if near and tuple(near[0][:2]) in derived:
            a, b, _ = near[0]
            raise UnsupportedQueryError(
                f"{derived[(a, b)]} cannot run chunk by chunk here: {aliases[b].key} reads its overlap rows "
                "for it, so it must be alone on its side of the join (no other table joined to it, not the "
                "preserved side of a LEFT JOIN)")
        if near:
            a, b, _ = near[0]
            raise UnsupportedQueryError(
                f"near-neighbour join of {aliases[a].key} and {aliases[b].key}: one side must be a "
                "director table alone on its side of the join, on the same partitioning")
    names = ", ".join(sorted({aliases[alias].key for alias in sharded}))
    own_position = sorted({aliases[a].key for a in sharded if aliases[a].kind == "child" and aliases[a].position})
    note = (f" ({', '.join(own_position)} rows are placed by their own position, not in their director's "
            "chunk, so a director-key join is not chunk-local)" if own_position else "")
    raise UnsupportedQueryError(
        f"the join of sharded tables {names} cannot run chunk by chunk{note}: join them on their "
        "director key (e.g. o.objectId = s.objectId) or with a near-neighbour condition "
        "DISTANCE(POINT(a.ra, a.dec), POINT(b.ra, b.dec)) < r")


def _can_read_overlap(aliases, inner, outer, anchor):
    """Whether ``outer`` can read own + overlap rows opposite ``inner``: a director with overlap on
    the same grid, and not ``anchor`` (the preserved first table of a LEFT JOIN)."""
    return (aliases[outer].has_overlap and outer != anchor
            and aliases[outer].partitioning == aliases[inner].partitioning)


def _check_radius(info, radius_deg):
    if radius_deg * 3600.0 > info.partitioning.overlap_arcsec:
        raise UnsupportedQueryError(
            f"near-neighbour radius {radius_deg * 3600.0:g} arcsec exceeds the overlap "
            f"({info.partitioning.overlap_arcsec:g} arcsec) of {info.key}: pairs across chunk "
            "edges would be lost")
