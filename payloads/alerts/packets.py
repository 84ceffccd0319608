"""Alert records from the APDB's rows (pure: no I/O).

One record per triggering DiaSource: the source, its DiaObject (latest version), the object's
earlier DiaSources and DiaForcedSources of the history window (``prvDiaSources``,
``prvDiaForcedSources``: before the source's midpoint, in time order), the SSSource of the source
when one is given, cutouts as given bytes (or null). Fields are taken by name from the rows; a
field the rows lack is null (the schema says whether that is allowed; ``wire.validate`` checks)."""

from collections import defaultdict

from qserv.payloads.alerts.wire import full_name

CUTOUTS = ("cutoutDifference", "cutoutScience", "cutoutTemplate")


def record_fields(schema_definition):
    """name -> field names of the records an alert schema nests (diaSource, prvDiaSources...);
    a record type used again is named by its full name (``lsst.v11_1.diaSource``)."""
    named, found = {}, {}
    for field in schema_definition["fields"]:
        for branch in field["type"] if isinstance(field["type"], list) else [field["type"]]:
            if isinstance(branch, dict) and branch.get("type") == "array":
                branch = branch["items"]
            if isinstance(branch, dict) and branch.get("type") == "record":
                names = [f["name"] for f in branch["fields"]]
                named[full_name(branch)] = named[branch["name"]] = names
                found[field["name"]] = names
            elif isinstance(branch, str) and branch in named:
                found[field["name"]] = named[branch]
    return found


def records(table, names):
    """The rows of ``table`` as dicts of ``names`` (absent columns are None)."""
    if table is None or table.num_rows == 0:
        return []
    columns = [table.column(name).to_pylist() if name in table.column_names else [None] * table.num_rows
               for name in names]
    return [dict(zip(names, values)) for values in zip(*columns)]


def by_object(rows):
    """diaObjectId -> rows in (midpointMjdTai, id) order."""
    grouped = defaultdict(list)
    for row in rows:
        grouped[row["diaObjectId"]].append(row)
    for group in grouped.values():
        group.sort(key=lambda r: (r["midpointMjdTai"], r.get("diaSourceId") or r.get("diaForcedSourceId") or 0))
    return grouped


def alert_records(schema_definition, sources, objects, history=None, forced_history=None, ss_sources=None,
                  cutouts=None, observation_reason=None, target_name=None):
    """The alert records of ``sources`` (pyarrow Tables of the APDB's columns; ``objects`` holds
    the latest version of the sources' DiaObjects; ``cutouts``: diaSourceId -> (difference,
    science, template) bytes or None)."""
    fields = record_fields(schema_definition)
    objects_by_id = {row["diaObjectId"]: row for row in records(objects, fields["diaObject"])}
    prior = by_object(records(history, fields["prvDiaSources"]))
    prior_forced = by_object(records(forced_history, fields["prvDiaForcedSources"]))
    ss_by_source = {row["diaSourceId"]: row for row in records(ss_sources, fields["ssSource"])}
    cutouts = cutouts or {}
    result = []
    for source in records(sources, fields["diaSource"]):
        source_id, object_id, time = source["diaSourceId"], source["diaObjectId"], source["midpointMjdTai"]
        record = {
            "diaSourceId": source_id, "observation_reason": observation_reason, "target_name": target_name,
            "diaSource": source,
            "prvDiaSources": [row for row in prior.get(object_id, ())
                              if row["midpointMjdTai"] < time and row["diaSourceId"] != source_id],
            "prvDiaForcedSources": [row for row in prior_forced.get(object_id, ()) if row["midpointMjdTai"] < time],
            "diaObject": objects_by_id.get(object_id), "ssSource": ss_by_source.get(source_id),
            "mpc_orbits": None,
        }
        record.update(zip(CUTOUTS, cutouts.get(source_id) or (None, None, None)))
        result.append(record)
    return result


def searchable_rows(alerts):
    """The searchable fields of alert records, as columns (name -> list)."""
    sources = [alert["diaSource"] for alert in alerts]
    columns = {name: [source.get(name) for source in sources] for name in SEARCHABLE_SOURCE_FIELDS}
    columns["diaSourceId"] = [alert["diaSourceId"] for alert in alerts]
    columns["hasSsSource"] = [alert.get("ssSource") is not None for alert in alerts]
    return columns


def source_columns(sources, ss_sources=None):
    """``searchable_rows`` of the alerts of ``sources`` (an Arrow table of DiaSources; ``ss_sources``:
    their SSSources or None) taken from the tables: name -> Arrow array."""
    import pyarrow as pa
    import pyarrow.compute as pc

    count = sources.num_rows
    columns = {name: sources.column(name) if name in sources.column_names else pa.nulls(count)
               for name in ("diaSourceId", *SEARCHABLE_SOURCE_FIELDS)}
    with_ss = ss_sources.column("diaSourceId") if ss_sources is not None else pa.array([], pa.int64())
    columns["hasSsSource"] = pc.is_in(sources.column("diaSourceId"), value_set=with_ss.cast(pa.int64()))
    return columns


# Fields of the triggering diaSource kept as columns of the archive (besides diaSourceId).
SEARCHABLE_SOURCE_FIELDS = ("diaObjectId", "ssObjectId", "visit", "detector", "band", "ra", "dec",
                            "midpointMjdTai", "psfFlux", "psfFluxErr", "snr", "reliability", "isNegative")

