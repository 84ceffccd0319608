"""A synthetic night of EFD telemetry and exposures (Parquet files and a transform configuration),
and a pandas computation of the transform over the same files: the oracle of the EFD tests and the
"script" peer of bench/efd_bench.py."""

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

NIGHT_START_MJD = 61_000.05
EXPOSURE_S, GAP_S = 30.0, 10.0
LEAD_S = 300.0  # telemetry starts this long before the first exposure
MJD_EPOCH = pd.Timestamp("1858-11-17")


def topic_names(count):
    """``count`` topic names: (name, fields, rate in Hz, has salIndex)."""
    kinds = [("lsst.sal.MTMount.azimuth", ["actualPosition", "actualVelocity"], False),
             ("lsst.sal.ESS.temperature", ["temperatureItem0"], True),
             ("lsst.sal.MTM1M3.forceActuatorData", ["fx", "fy", "fz"], False),
             ("lsst.sal.MTDome.apertureShutter", ["positionActual"], True),
             ("lsst.sal.ATPtg.mountPosition", ["ra", "declination"], False)]
    rates = [50.0, 1.0, 20.0, 2.0, 10.0]
    topics = []
    for i in range(count):
        name, fields, sal = kinds[i % len(kinds)]
        suffix = "" if i < len(kinds) else f"{i // len(kinds)}"
        topics.append((name + suffix, fields, rates[i % len(rates)], sal))
    return topics


def night(directory, exposures=30, topics=5, seed=1, timestamps_every=2):
    """Write exposures.parquet and one Parquet file per topic into ``directory``; returns
    (exposures path, {topic: path}, [(topic, fields, rate, sal)]). Every ``timestamps_every``-th
    topic gives its time as TAI timestamps, the others as MJDs."""
    directory = Path(directory)
    rng = np.random.default_rng(seed)
    starts = NIGHT_START_MJD + (LEAD_S + np.arange(exposures) * (EXPOSURE_S + GAP_S)) / 86_400
    frame = pd.DataFrame({"day_obs": 20260105, "seq_num": np.arange(1, exposures + 1, dtype=np.int32),
                          "exposure_id": 2026010500000 + np.arange(1, exposures + 1),
                          "obs_start": starts, "obs_end": starts + EXPOSURE_S / 86_400,
                          "band": rng.choice(list("ugrizy"), exposures)})
    exposures_path = directory / "exposures.parquet"
    frame.to_parquet(exposures_path, index=False)
    end_s = LEAD_S + exposures * (EXPOSURE_S + GAP_S) + 60.0
    described = topic_names(topics)
    paths = {}
    for i, (topic, fields, rate, sal) in enumerate(described):
        count = int(end_s * rate)
        seconds = np.sort(rng.uniform(0, end_s, count))
        data = {}
        for k, field in enumerate(fields):
            data[field] = (100.0 * k + 5.0 * np.sin(seconds / (50.0 + 7 * k)) + 0.01 * seconds
                           + rng.normal(0, 0.2, count))
        if sal:
            data["salIndex"] = rng.integers(1, 4, count).astype(np.int32)
        mjd = NIGHT_START_MJD + seconds / 86_400
        if timestamps_every and i % timestamps_every == 1:
            data["time"] = MJD_EPOCH + pd.to_timedelta(np.round(mjd * 86_400e9).astype(np.int64), unit="ns")
        else:
            data["time"] = mjd
        paths[topic] = directory / f"topic{i}.parquet"
        pd.DataFrame(data).to_parquet(paths[topic], index=False)
    return exposures_path, paths, described


def config(described, functions=("mean", "stddev", "min", "max", "most_recent_value", "rms_from_polynomial_fit"),
           subset_every=1, pre_aggregate_s=None):
    """A transform configuration document: each function over each topic's fields."""
    columns = []
    for i, (topic, fields, _, sal) in enumerate(described):
        for function in functions:
            entry = {"name": f"t{i}_{function}", "tables": ["exposure_efd", "exposure_efd_unpivoted"],
                     "function": function, "topic": topic, "fields": fields, "datatype": "double",
                     "unit": "deg", "description": f"{function} of {topic}"}
            if function == "rms_from_polynomial_fit":
                entry["function_args"] = {"degree": 1 + i % 3}
            if function == "most_recent_value":
                entry["start_offset_s"] = 2.5
            if sal and subset_every and i % subset_every == 0:
                entry["subset"] = {"salIndex": 2}
            if pre_aggregate_s and function != "most_recent_value":
                entry["pre_aggregate_interval_s"] = pre_aggregate_s
            columns.append(entry)
    return {"version": 1, "columns": columns}


def write_config(path, document):
    Path(path).write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def mjd_of(times):
    """A pandas Series of times (MJD floats or timestamps) as MJD floats."""
    if pd.api.types.is_datetime64_any_dtype(times):
        return (times - MJD_EPOCH) / pd.Timedelta(days=1)
    return times.astype(float)


def pandas_transform(exposures_path, topic_paths, document):
    """The pivoted output computed with pandas: {exposure_id: {column: value}} ("the way a script
    does it": read every topic file, sort it by time, slice each window's samples by binary search,
    apply the function)."""
    exposures = pd.read_parquet(exposures_path)
    frames, selected = {}, {}
    for topic, path in topic_paths.items():
        frame = pd.read_parquet(path)
        frame["t"] = mjd_of(frame["time"])
        frames[topic] = frame.sort_values("t", kind="stable", ignore_index=True)
    for entry in document["columns"]:
        key = (entry["topic"], tuple(sorted((entry.get("subset") or {}).items())))
        if key not in selected:
            frame = frames[entry["topic"]]
            for column, value in key[1]:
                frame = frame[frame[column] == value]
            selected[key] = (frame.reset_index(drop=True), frame["t"].to_numpy())
        entry["_key"] = key
    out = {}
    for row in exposures.itertuples():
        values = out.setdefault(row.exposure_id, {})
        for entry in document["columns"]:
            frame, times = selected[entry["_key"]]
            start = row.obs_start + entry.get("start_offset_s", 0.0) / 86_400
            if entry["function"] == "most_recent_value":
                last = np.searchsorted(times, start, "right")
                first = np.searchsorted(times, times[last - 1], "left") if last else 0
                if last and times[last - 1] <= start - 30.0:
                    first = last
                rows = frame.iloc[first:last]
            else:
                rows = frame.iloc[np.searchsorted(times, start, "left"):np.searchsorted(times, row.obs_end, "right")]
            for field in entry["fields"]:
                column = entry["name"] if len(entry["fields"]) == 1 else f"{entry['name']}_{field}"
                values[column] = _summary(rows, field, start, entry)
    for entry in document["columns"]:
        del entry["_key"]
    return out


def _summary(rows, field, start, entry):
    """``entry``'s function of ``field`` over ``rows`` (the window's samples, or the samples at the
    last time at or before the start for most_recent_value: the largest value when several)."""
    function = entry["function"]
    if function == "most_recent_value":
        return None if rows[field].isna().all() else float(rows[field].max())
    times, values = rows["t"], rows[field]
    interval = entry.get("pre_aggregate_interval_s")
    if interval:
        bins = np.floor((times - start) * (86_400.0 / interval))
        seconds = (times - start) * 86_400.0
        grouped = pd.DataFrame({"b": bins, "t": seconds / 86_400.0, "v": values}).groupby("b")
        times, values = grouped["t"].mean(), grouped["v"].mean()
    keep = values.notna()
    times, values = times[keep].to_numpy(), values[keep].to_numpy()
    if function == "mean":
        return float(values.mean()) if len(values) else None
    if function == "min":
        return float(values.min()) if len(values) else None
    if function == "max":
        return float(values.max()) if len(values) else None
    if function == "stddev":
        return float(pd.Series(values).std(ddof=1)) if len(values) >= 2 else None
    degree = entry["function_args"]["degree"]
    if len(values) <= degree:
        return None
    x = (times - times.mean()) * 86_400.0
    fit = np.polynomial.Polynomial.fit(x, values, degree)
    return float(np.sqrt(np.mean((values - fit(x)) ** 2)))
