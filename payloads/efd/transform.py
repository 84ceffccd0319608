"""Summaries of one batch of exposure windows, computed by queries on the core (see ``queries``
for the statements, ``summaries`` for the arithmetic).

Entries are grouped by (topic, subset, start offset, pre-aggregation interval): each group reads
its topic with one statement per pass for the whole batch (pass 1 totals, pass 2 spreads when a
stddev or a fit needs them; or one statement of bin means with pre-aggregation; two small
statements for most_recent_value).
"""

from collections import defaultdict

import numpy as np
import pyarrow as pa

from qserv.payloads.efd import queries, summaries
from qserv.payloads.efd.times import SECONDS_PER_DAY

LOOKBACK_S = (60.0, 3600.0, 86_400.0, 30 * 86_400.0)  # most_recent_value: searched back this far, in turn


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
        if other and interval_s:
            _binned(engine, table, other, subset, interval_s, eids, t0, ends, results)
        elif other:
            _moments(engine, table, other, subset, eids, t0, ends, results)
    return results


def _fields(entries):
    return list(dict.fromkeys(f for e in entries for f in e.fields))


def _upload(**columns):
    return {queries.UPLOAD: pa.table({name: pa.array(values) for name, values in columns.items()})}


def _by_eid(rows):
    eids = rows["eid"].to_pylist()
    return {eid: i for i, eid in enumerate(eids)}, {name: rows[name].to_pylist() for name in rows.column_names}


def _moments(engine, table, entries, subset, eids, t0, t1, results):
    fields = _fields(entries)
    low, high = float(t0.min()), float(t1.max())
    index, first = _by_eid(engine.query(queries.totals(table, fields, subset, low, high),
                                        uploads=_upload(exposure_id=eids, t0=t0, t1=t1)))
    degrees = {}
    for e in entries:
        if e.function == "rms_from_polynomial_fit":
            for f in e.fields:
                degrees[f] = max(degrees.get(f, 0), e.degree)
    second = None
    if degrees or any(e.function == "stddev" for e in entries):
        means = {}
        for i, _ in enumerate(fields):
            means[f"m{i}"] = np.array([_mean_of(first, index, eid, i) for eid in eids])
        length = np.where(t1 > t0, t1 - t0, 1.0)
        rows = engine.query(queries.spreads(table, fields, degrees, subset, low, high),
                            uploads=_upload(exposure_id=eids, t0=t0, t1=t1, tc=(t0 + t1) / 2, k=2.0 / length,
                                            **means))
        second = _by_eid(rows)
    for eid in eids.tolist():
        row = index.get(eid)
        for e in entries:
            for f in e.fields:
                i = fields.index(f)
                n = first[f"n{i}"][row] if row is not None else 0
                results[eid][(e.name, f)] = _value(e, i, n, first, row, second, eid) if n else None


def _mean_of(first, index, eid, i):
    row = index.get(eid)
    n = first[f"n{i}"][row] if row is not None else 0
    return first[f"s{i}"][row] / n if n else 0.0


def _value(entry, i, n, first, row, second, eid):
    if entry.function == "mean":
        return summaries.mean(n, first[f"s{i}"][row])
    if entry.function == "min":
        return first[f"lo{i}"][row]
    if entry.function == "max":
        return first[f"hi{i}"][row]
    index, spread = second
    at = index[eid]
    q = spread[f"q{i}"][at]
    if entry.function == "stddev":
        return summaries.stddev(n, q)
    d = entry.degree
    powers = [n] + [spread[f"p{i}_{j}"][at] for j in range(1, 2 * d + 1)]
    cross = [spread[f"c{i}_{j}"][at] for j in range(d + 1)]
    return summaries.fit_rms(n, q, powers, cross, d)


def _binned(engine, table, entries, subset, interval_s, eids, t0, t1, results):
    fields = _fields(entries)
    rows = engine.query(queries.bins(table, fields, subset, interval_s, float(t0.min()), float(t1.max())),
                        uploads=_upload(exposure_id=eids, t0=t0, t1=t1))
    order = np.argsort(rows["eid"].to_numpy(), kind="stable")
    binned_eids = rows["eid"].to_numpy()[order]
    times = rows["ts"].to_numpy()[order]
    values = {f: rows[f"v{i}"].to_numpy(zero_copy_only=False).astype(float)[order] for i, f in enumerate(fields)}
    for eid in eids.tolist():
        lo, hi = np.searchsorted(binned_eids, eid, "left"), np.searchsorted(binned_eids, eid, "right")
        for e in entries:
            for f in e.fields:
                results[eid][(e.name, f)] = summaries.over_bins(e.function, times[lo:hi], values[f][lo:hi],
                                                                 e.degree)


def _most_recent(engine, table, entries, subset, eids, at, results):
    fields = _fields(entries)
    found = {}
    todo = np.ones(len(eids), dtype=bool)
    for lookback_s in LOOKBACK_S:
        if not todo.any():
            break
        since = at[todo] - lookback_s / SECONDS_PER_DAY
        rows = engine.query(queries.last_times(table, subset, float(since.min()), float(at[todo].max())),
                            uploads=_upload(exposure_id=eids[todo], t0=at[todo], a0=since))
        found.update(zip(rows["eid"].to_pylist(), rows["tl"].to_pylist()))
        todo &= ~np.isin(eids, list(found))
    values = {}
    times = sorted(set(found.values()))
    for start in range(0, len(times), 500):
        rows = engine.query(queries.values_at(table, fields, subset, times[start:start + 500]))
        for i, t in enumerate(rows["tl"].to_pylist()):
            values[t] = {f: rows[f"v{k}"][i].as_py() for k, f in enumerate(fields)}
    for eid in eids.tolist():
        sample = values.get(found.get(eid), {})
        for e in entries:
            for f in e.fields:
                results[eid][(e.name, f)] = sample.get(f)
