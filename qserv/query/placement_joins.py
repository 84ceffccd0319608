"""Joins that are chunk-local because of how rows were placed (pure): children placed by their
director's position or near it, and match tables (``qserv.ingest.director_links`` checks and
measures at ingest what these rules rely on). Used by ``qserv.query.joins``; ``columns`` is its
alias resolver (``alias_of``, ``is_column``, ``aliases``).
"""

from sqlglot import exp

# Added to a measured distance used as a near-neighbour radius: covers the rounding of the measure
# (the declination band and zones of the plan must hold every pair).
RADIUS_MARGIN_DEG = 1e-9


def join_key(info):
    """The column on which a director-key join of ``info`` is chunk-local: its placement key, or the
    director key of a child placed by its director's position (whose rows with no director keep
    their own chunk, so the key does not locate them: no placement key)."""
    if info.kind == "child" and info.director_position:
        return info.director_key
    return info.placement_key


def join_family(info):
    return info.director if info.kind == "child" and info.director_position else info.family


def is_near_child(child, director):
    return (child.kind == "child" and child.position is not None and not child.director_position
            and director.kind == "director" and child.director == director.key)


def _sides(node, columns):
    """Both orders ``((alias, column node), (alias, column node))`` of an equality between columns
    of two aliases; none for anything else."""
    if not isinstance(node, exp.EQ):
        return ()
    a, b = columns.alias_of(node.this), columns.alias_of(node.expression)
    if a is None or b is None or a == b:
        return ()
    return (((a, node.this), (b, node.expression)), ((b, node.expression), (a, node.this)))


def near_child_edge(node, columns):
    """(child alias, director alias) of ``c.key = o.id`` for a child placed near its director."""
    for (c, c_node), (o, o_node) in _sides(node, columns):
        child, director = columns.aliases[c], columns.aliases[o]
        if is_near_child(child, director) and columns.is_column(c_node, c, child.director_key) \
                and columns.is_column(o_node, o, director.id_column):
            return c, o
    return None


def near_child_radius_deg(child, director):
    """The radius (degrees) of the near-neighbour plan of a director-key join of ``child``, placed
    near its ``director``, or why it cannot run chunk by chunk."""
    radius, distance = measured_radius_deg(child)
    if radius is None:
        return (f"the join of {child.key} and its director {director.key} on {child.director_key} cannot run "
                f"chunk by chunk: {child.key} is placed by its own position, and the largest distance of a "
                f"row from its director {distance}")
    return radius


def measured_radius_deg(info):
    """(radius in degrees, None) from the largest distance recorded for ``info`` (a child near its
    director, a match table), or (None, why not) when it is not known or beyond the overlap."""
    overlap = info.partitioning.overlap_arcsec
    measured = info.director_distance_arcsec
    if measured is None or measured > overlap:
        distance = ("is not known (rows ingested before it was measured)" if measured is None
                    else f"is {measured:g} arcsec")
        return None, f"{distance}, not within the overlap ({overlap:g} arcsec)"
    return min(measured / 3600.0 + RADIUS_MARGIN_DEG, overlap / 3600.0), None


def match_edge(node, columns):
    """(match alias, second director alias) of ``m.id2 = d2.id`` for a match table ``m``."""
    for (m, m_node), (d, d_node) in _sides(node, columns):
        match, director = columns.aliases[m], columns.aliases[d]
        if match.kind == "match" and director.kind == "director" and match.director2 == director.key \
                and columns.is_column(m_node, m, match.director2_key) and columns.is_column(d_node, d, director.id_column):
            return m, d
    return None


def match_join(aliases, groups, match, partner, left_joined, near):
    """A match table ``match`` joined to its second director ``partner``: with its first director
    in its group, ``partner`` reads its overlap as a near-neighbour partner of the first director
    (appended to ``near``; the radius is the recorded largest distance between matched rows); alone
    in its group, ``match`` reads all its copies (no radius: the plan keeps the pairs of a match copy
    and a ``partner`` row of the same chunk, the second director's chunk holding one copy of each
    match row). ``left_joined``: the aliases on the right of a LEFT JOIN. (why not, or None;
    whether ``match`` reads all its copies opposite ``partner``)."""
    info = aliases[match]
    group = next(g for g in groups if match in g)
    firsts = [a for a in group if aliases[a].kind == "director" and aliases[a].key == info.director]
    if {match, partner, *firsts[:1]} & left_joined:
        return (f"LEFT JOIN of the match table {info.key} with {info.director2} cannot run chunk by chunk "
                "(the same-chunk condition would drop rows with no partner): use an inner join"), False
    if firsts:
        radius, distance = measured_radius_deg(info)
        if radius is None:
            return (f"the join of {info.director} and {info.director2} through the match table {info.key} cannot "
                    f"run chunk by chunk: the largest distance between the rows it matches {distance}"), False
        near.append((firsts[0], partner, radius))
        return None, False
    return None, group == [match] and len(groups) == 2
