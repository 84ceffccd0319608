"""The ADQL the transform sends to the core, per topic group and batch of windows (pure).

Each statement joins the topic's ``time`` table ``t`` with the batch's windows, uploaded as
``TAP_UPLOAD.efd_windows`` ``w`` (slot: the window's number, t0, t1, key), on
``FLOOR(t.time_mjd_tai * 86400 / key_s) = w.key AND t.time_mjd_tai BETWEEN w.t0 AND w.t1``: a
window has one upload row per ``key_s``-second step of time it meets (``key_s`` at least its
length, so one or two), which makes the join an equality join (hash join on the workers; a plain
range join was 10x slower). ``t.time_mjd_tai`` is also bounded by the batch's first and last
window so that only the time buckets of the batch are read. Field names are validated
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


def _in_window(key_s):
    return f"FLOOR({T} * {86400.0 / key_s!r}) = w.key AND {T} >= w.t0 AND {T} <= w.t1"


def totals(table, fields, subset, key_s, low, high):
    """Per window (slot), n{i}, s{i}, lo{i}, hi{i} of each field i (entries of mean, min, max only)."""
    items = []
    for i, name in enumerate(fields):
        f = _field(name)
        items += [f"COUNT({f}) AS n{i}", f"SUM({f}) AS s{i}", f"MIN({f}) AS lo{i}", f"MAX({f}) AS hi{i}"]
    return (f"SELECT w.slot AS slot, {', '.join(items)} {_join(table, _in_window(key_s))} "
            f"WHERE {_where(subset, low, high)} GROUP BY w.slot")


def samples(table, fields, subset, key_s, low, high):
    """The samples of each window (slot): their time tl and v{i} per field."""
    items = [f"{_field(name)} AS v{i}" for i, name in enumerate(fields)]
    return (f"SELECT w.slot AS slot, {T} AS tl, {', '.join(items)} {_join(table, _in_window(key_s))} "
            f"WHERE {_where(subset, low, high)}")


def bins(table, fields, subset, interval_s, key_s, low, high):
    """Pre-aggregation: per window (slot) and bin of ``interval_s`` from the window start, the mean
    time in seconds from the window start (ts; precise, unlike a mean of MJDs) and the mean v{i} of
    each field."""
    bin_of = f"FLOOR(({T} - w.t0) * {86400.0 / interval_s!r})"
    items = [f"AVG({_field(name)}) AS v{i}" for i, name in enumerate(fields)]
    return (f"SELECT w.slot AS slot, {bin_of} AS b, AVG(({T} - w.t0) * 86400.0) AS ts, {', '.join(items)} "
            f"{_join(table, _in_window(key_s))} WHERE {_where(subset, low, high)} GROUP BY w.slot, {bin_of}")
