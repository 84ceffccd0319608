"""Collections (pure: no I/O): CHAINED search paths, cycle refusal, calibration validity ranges.

``collections`` below is a dict name -> (type, children) of the current collection definitions."""

from qserv.errors import ConflictError, NotFoundError, UserError


def flatten(collections, names):
    """The search path of ``names``: each name in order, a CHAINED one replaced by its children
    (recursively, depth first); a collection reached twice is searched at its first place only."""
    path, seen = [], set()

    def visit(name, stack):
        if name not in collections:
            raise NotFoundError(f"no collection {name!r}")
        if name in stack:
            raise UserError(f"collection chain cycle: {' -> '.join([*stack, name])}")
        kind, children = collections[name]
        if kind == "chained":
            for child in children:
                visit(child, [*stack, name])
        elif name not in seen:
            seen.add(name)
            path.append(name)

    for name in names:
        visit(name, [])
    return path


def check_chain(collections, name, children):
    """Refuse chain ``name`` -> ``children`` if a child is unknown or the chain makes a cycle."""
    proposed = {**collections, name: ("chained", list(children))}
    for child in children:
        if child not in collections and child != name:
            raise NotFoundError(f"chain {name!r}: no collection {child!r}")
    flatten(proposed, [name])


def overlaps(begin_a, end_a, begin_b, end_b):
    """Half-open ranges [begin, end) overlap (None: unbounded)."""
    low_a = float("-inf") if begin_a is None else begin_a
    high_a = float("inf") if end_a is None else end_a
    low_b = float("-inf") if begin_b is None else begin_b
    high_b = float("inf") if end_b is None else end_b
    return low_a < high_b and low_b < high_a


def check_certifications(existing, new):
    """Refuse ``new`` certifications [(key, begin, end)] (key: dataset type and data id) that
    overlap each other or one of ``existing`` [(key, begin, end)] of the same key."""
    by_key = {}
    for key, begin, end in existing:
        by_key.setdefault(key, []).append((begin, end))
    for key, begin, end in new:
        if begin is not None and end is not None and not begin < end:
            raise UserError(f"validity range [{begin}, {end}) is empty")
        for other_begin, other_end in by_key.get(key, []):
            if overlaps(begin, end, other_begin, other_end):
                raise ConflictError(f"certification of {key} over [{begin}, {end}) overlaps one over "
                                    f"[{other_begin}, {other_end})")
        by_key.setdefault(key, []).append((begin, end))


def in_range(begin, end, time):
    return (begin is None or begin <= time) and (end is None or time < end)


def current(rows, key_columns):
    """The rows (dicts with ``version`` and ``removed``) that are current: per key, those of the
    highest version, unless that version removed the key."""
    latest = {}
    for row in rows:
        key = tuple(row[c] for c in key_columns)
        if key not in latest or row["version"] > latest[key]["version"]:
            latest[key] = row
    return [row for row in latest.values() if not row.get("removed")]
