"""Summaries of one batch of exposure windows, computed by queries on the core (see ``queries``
for the statements, ``summaries`` for the arithmetic).

Entries are grouped by (topic, subset, start offset, pre-aggregation interval): each group reads
its topic once for the whole batch of windows: per-window COUNT/SUM/MIN/MAX computed by the core
when the group has only mean, min and max; otherwise the windows' samples (or, with
pre-aggregation, their bin means computed by the core), summarised by ``summaries`` with numpy.
Measured on 200 windows of a 50 Hz topic with three fields: the samples statement took 0.17 s
where the centred moments of a degree-3 fit computed by the core (SUM of x^j (y - mean) etc.)
took 0.84 s, besides needing the means first. most_recent_value reads the samples of a short
lookback before each window start (longer ones only for the windows without a sample).
"""

from collections import defaultdict

import numpy as np
import pyarrow as pa

from qserv.payloads.efd import queries, summaries
from qserv.payloads.efd.times import SECONDS_PER_DAY

SQL_FUNCTIONS = ("mean", "min", "max")  # computed by the core alone (COUNT, SUM, MIN, MAX per window)
LOOKBACK_S = (2.0, 60.0, 3600.0, 86_400.0, 30 * 86_400.0)  # most_recent_value: searched back this far, in turn


def group_entries(entries):
    groups = defaultdict(list)
    for entry in entries:
        groups[(entry.topic, entry.subset, entry.start_offset_s, entry.pre_aggregate_interval_s)].append(entry)
    return groups


def compute(engine, tables, entries, windows):
    """{exposure_id: {(entry name, field): value}} for ``windows`` (a pyarrow.Table with exposure_id,
    obs_start_mjd_tai, obs_end_mjd_tai); ``tables``: topic -> qualified table name."""
    results = defaultdict(dict)
    eids = windows["exposure_id"].to_numpy()
    starts = windows["obs_start_mjd_tai"].to_numpy()
    ends = windows["obs_end_mjd_tai"].to_numpy()
    for (topic, subset, offset_s, interval_s), group in group_entries(entries).items():
        table = tables[topic]
        t0 = starts + offset_s / SECONDS_PER_DAY
        recent = [e for e in group if e.function == "most_recent_value"]
        other = [e for e in group if e.function != "most_recent_value"]
        if recent:
            _most_recent(engine, table, recent, subset, eids, t0, results)
        if other:
            _moments(engine, table, other, subset, interval_s, eids, t0, ends, results)
    return results


def _fields(entries):
    return list(dict.fromkeys(f for e in entries for f in e.fields))


def _upload(exposure_id, t0, t1, **columns):
    """(uploads, key_s): the windows as TAP_UPLOAD.efd_windows, one row per ``key_s`` step of time
    each meets (``key`` = FLOOR(time * 86400 / key_s), as ``queries`` computes it for samples)."""
    key_s = float(np.ceil(max(float((t1 - t0).max()) * SECONDS_PER_DAY, 1.0)))
    first, last = np.floor(t0 * (86400.0 / key_s)), np.floor(t1 * (86400.0 / key_s))
    steps = (last - first).astype(np.int64) + 1
    rows = np.repeat(np.arange(len(t0)), steps)
    key = first[rows] + (np.arange(len(rows)) - np.repeat(np.cumsum(steps) - steps, steps))
    table = {"exposure_id": exposure_id[rows], "t0": t0[rows], "t1": t1[rows], "key": key,
             **{name: np.asarray(values)[rows] for name, values in columns.items()}}
    return {queries.UPLOAD: pa.table(table)}, key_s


def _moments(engine, table, entries, subset, interval_s, eids, t0, t1, results):
    fields = _fields(entries)
    low, high = float(t0.min()), float(t1.max())
    uploads, key_s = _upload(eids, t0, t1)
    if interval_s is None and all(e.function in SQL_FUNCTIONS for e in entries):
        _totals(engine.query(queries.totals(table, fields, subset, key_s, low, high), uploads=uploads),
                entries, fields, eids, results)
        return
    text = (queries.bins(table, fields, subset, interval_s, key_s, low, high) if interval_s
            else queries.samples(table, fields, subset, key_s, low, high))
    rows = engine.query(text, uploads=uploads)
    sorter = np.argsort(eids)
    window = sorter[np.searchsorted(eids, rows["eid"].to_numpy(), sorter=sorter)]
    order = np.argsort(window, kind="stable")
    starts = np.searchsorted(window[order], np.arange(len(eids)))
    seconds = rows["ts"].to_numpy()[order]
    lengths_s = (t1 - t0) * SECONDS_PER_DAY
    for e in entries:
        for f in e.fields:
            values = rows[f"v{fields.index(f)}"].to_numpy(zero_copy_only=False).astype(float)[order]
            summary = summaries.summarise(e.function, starts, seconds, values, lengths_s, e.degree)
            for eid, value in zip(eids.tolist(), summary.tolist()):
                results[eid][(e.name, f)] = None if np.isnan(value) else value


def _totals(rows, entries, fields, eids, results):
    index = {eid: i for i, eid in enumerate(rows["eid"].to_pylist())}
    columns = {name: rows[name].to_pylist() for name in rows.column_names}
    for eid in eids.tolist():
        row = index.get(eid)
        for e in entries:
            for f in e.fields:
                i = fields.index(f)
                if row is None or not columns[f"n{i}"][row]:
                    results[eid][(e.name, f)] = None
                elif e.function == "mean":
                    results[eid][(e.name, f)] = columns[f"s{i}"][row] / columns[f"n{i}"][row]
                else:
                    results[eid][(e.name, f)] = columns[f"lo{i}" if e.function == "min" else f"hi{i}"][row]


def _most_recent(engine, table, entries, subset, eids, at, results):
    """The last sample at or before ``at`` per window (several at that time: the largest value),
    searched in (at - lookback, at] for growing lookbacks, each only for the windows still without."""
    fields = _fields(entries)
    found = {}
    todo = np.ones(len(eids), dtype=bool)
    for lookback_s in LOOKBACK_S:
        if not todo.any():
            break
        since = at[todo] - lookback_s / SECONDS_PER_DAY
        uploads, key_s = _upload(eids[todo], since, at[todo])
        rows = engine.query(queries.recent(table, fields, subset, key_s, float(since.min()), float(at[todo].max())),
                            uploads=uploads)
        found.update(_last_samples(rows, fields))
        todo &= ~np.isin(eids, list(found))
    for eid in eids.tolist():
        sample = found.get(eid, {})
        for e in entries:
            for f in e.fields:
                results[eid][(e.name, f)] = sample.get(f)


def _last_samples(rows, fields):
    """{eid: {field: value}} of the rows at the latest time of each window's rows."""
    if not rows.num_rows:
        return {}
    eid, times = rows["eid"].to_numpy(), rows["tl"].to_numpy()
    order = np.lexsort((times, eid))
    eid, times = eid[order], times[order]
    starts = np.flatnonzero(np.r_[True, eid[1:] != eid[:-1]])
    latest = np.maximum.reduceat(times, starts)
    last = times == np.repeat(latest, np.diff(np.r_[starts, len(eid)]))
    kept = eid[last]
    kept_starts = np.flatnonzero(np.r_[True, kept[1:] != kept[:-1]])
    out = {int(e): {} for e in eid[starts]}
    for i, f in enumerate(fields):
        values = rows[f"v{i}"].to_numpy(zero_copy_only=False).astype(float)[order][last]
        for e, value in zip(eid[starts].tolist(), np.fmax.reduceat(values, kept_starts).tolist()):
            out[e][f] = None if np.isnan(value) else value
    return out
