"""The ADQL the transform sends to the core, per topic group and batch of windows (pure).

Each statement joins the topic's ``time`` table ``t`` with the batch's windows, uploaded as
``TAP_UPLOAD.efd_windows`` ``w`` (exposure_id, t0, t1 and per-pass columns), on
``t.time_mjd_tai BETWEEN w.t0 AND w.t1``, and bounds ``t.time_mjd_tai`` by the batch's first and
last window so that only the time buckets of the batch are read. Field names are validated
identifiers (quoted); subset values are rendered as SQL literals by sqlglot.
"""

from sqlglot import exp

from qserv.storage import quote

from qserv.payloads.efd.tables import TIME_COLUMN

UPLOAD = "efd_windows"
T = f"t.{TIME_COLUMN}"


def _field(name):
    return f"t.{quote(name)}"


def _literal(value):
    if isinstance(value, str):
        return exp.Literal.string(value).sql()
    return repr(int(value)) if float(value).is_integer() else repr(float(value))


def _where(subset, low, high):
    conditions = [f"{T} BETWEEN {low!r} AND {high!r}"]
    conditions += [f"{_field(key)} = {_literal(value)}" for key, value in subset]
    return " AND ".join(conditions)


def _join(table, on):
    return f"FROM {table} AS t JOIN TAP_UPLOAD.{UPLOAD} AS w ON {on}"


def _in_window():
    return f"{T} >= w.t0 AND {T} <= w.t1"


def totals(table, fields, subset, low, high):
    """Pass 1: per window, n{i}, s{i}, lo{i}, hi{i} of each field i."""
    items = []
    for i, name in enumerate(fields):
        f = _field(name)
        items += [f"COUNT({f}) AS n{i}", f"SUM({f}) AS s{i}", f"MIN({f}) AS lo{i}", f"MAX({f}) AS hi{i}"]
    return (f"SELECT w.exposure_id AS eid, {', '.join(items)} {_join(table, _in_window())} "
            f"WHERE {_where(subset, low, high)} GROUP BY w.exposure_id")


def spreads(table, fields, degrees, subset, low, high):
    """Pass 2 (windows carry m{i}, the field's mean, tc the window centre and k = 2 / length):
    q{i} = sum((y - m)^2) and, for fields with a fit degree d, p{i}_{j} = sum(x^j) (j = 1..2d) and
    c{i}_{j} = sum(x^j (y - m)) (j = 0..d), with x = (t - tc) * k."""
    items = []
    x = f"(({T} - w.tc) * w.k)"
    for i, name in enumerate(fields):
        f = _field(name)
        centred = f"({f} - w.m{i})"
        items.append(f"SUM({centred} * {centred}) AS q{i}")
        degree = degrees.get(name)
        if degree is None:
            continue
        for j in range(1, 2 * degree + 1):
            power = " * ".join([x] * j)
            items.append(f"SUM(CASE WHEN {f} IS NULL THEN NULL ELSE {power} END) AS p{i}_{j}")
        for j in range(degree + 1):
            power = " * ".join([x] * j + [centred])
            items.append(f"SUM({power}) AS c{i}_{j}")
    return (f"SELECT w.exposure_id AS eid, {', '.join(items)} {_join(table, _in_window())} "
            f"WHERE {_where(subset, low, high)} GROUP BY w.exposure_id")


def bins(table, fields, subset, interval_s, low, high):
    """Pre-aggregation: per window and bin of ``interval_s`` from the window start, the mean time
    in seconds from the window start (ts; precise, unlike a mean of MJDs) and the mean v{i} of each
    field."""
    bin_of = f"FLOOR(({T} - w.t0) * {86400.0 / interval_s!r})"
    items = [f"AVG({_field(name)}) AS v{i}" for i, name in enumerate(fields)]
    return (f"SELECT w.exposure_id AS eid, {bin_of} AS b, AVG(({T} - w.t0) * 86400.0) AS ts, {', '.join(items)} "
            f"{_join(table, _in_window())} WHERE {_where(subset, low, high)} GROUP BY w.exposure_id, {bin_of}")


def last_times(table, subset, low, high):
    """most_recent_value, step 1 (windows carry t0 = the time asked for, a0 = t0 - lookback):
    per window the time of the last sample in (a0, t0]."""
    on = f"{T} <= w.t0 AND {T} > w.a0"
    return (f"SELECT w.exposure_id AS eid, MAX({T}) AS tl {_join(table, on)} "
            f"WHERE {_where(subset, low, high)} GROUP BY w.exposure_id")


def values_at(table, fields, subset, times):
    """most_recent_value, step 2: the fields at the given sample times (several samples at one
    time: the largest value)."""
    items = [f"MAX({_field(name)}) AS v{i}" for i, name in enumerate(fields)]
    listed = ", ".join(repr(float(t)) for t in times)
    return (f"SELECT {T} AS tl, {', '.join(items)} FROM {table} AS t "
            f"WHERE {_where(subset, min(times), max(times))} AND {T} IN ({listed}) GROUP BY {T}")
