"""Reads of the registry: find (first match along a collection search path, as the Butler does),
dataset queries by data id expression, collection, time and sky region, and lineage."""

from qserv.errors import NotFoundError, UserError

from qserv.payloads.backbone import collections as chains
from qserv.payloads.backbone.model import DIMENSIONS, check_name, check_uuid, data_id_key, lookup_key
from qserv.payloads.backbone.sky import touches
from qserv.payloads.backbone.store import literal, name_list
from qserv.payloads.backbone.where import full_data_ids, where_condition


def _public(row, collection=None):
    out = {"id": row["id"], "dataset_type": row["dataset_type"], "run": row["run"]}
    out.update({d: row[d] for d in DIMENSIONS if row.get(d) is not None})
    out["uri"] = row.get("uri")
    if collection is not None:
        out["collection"] = collection
    return out


def _with_uris(backbone, rows):
    uris = {r["dataset_id"]: r["uri"] for r in backbone.store.rows_of_ids(
        "artifact", "dataset_id", [r["id"] for r in rows], columns="t.dataset_id, t.uri")}
    return [{**r, "uri": uris.get(r["id"])} for r in rows]


def _candidates(backbone, dataset_type, path, kinds, where, time, keys=None):
    """Datasets of ``dataset_type`` matching ``where`` in the collections of ``path`` -> list of
    (collection, row). ``keys``: the data_id_keys of a full data id search (then one query reads
    only their buckets of the dataset table, for RUN and member collections alike), or None."""
    conditions = [f"dataset_type = {literal(dataset_type)}"] + ([where] if where else [])
    runs = [c for c in path if kinds[c] == "run"]
    members = []
    for collection in path:
        if kinds[collection] == "tagged":
            members.extend((collection, m) for m in backbone._members("tag", collection)
                           if m["dataset_type"] == dataset_type)
        elif kinds[collection] == "calibration":
            if time is None:
                raise UserError(f"collection {collection!r} is a calibration collection: give a time (MJD)")
            members.extend((collection, m) for m in backbone._members("calib", collection)
                           if m["dataset_type"] == dataset_type and chains.in_range(m["t_begin"], m["t_end"], time))
    if keys is not None:
        members = [(c, m) for c, m in members if m["data_id_key"] in keys]
        lookups = name_list(sorted({lookup_key(dataset_type, k) for k in keys}))
        rows = backbone.store.rows("dataset", " AND ".join(conditions + [f"lookup_key IN ({lookups})"]))
        by_id = {r["id"]: r for r in rows}
        return ([(r["run"], r) for r in rows if r["run"] in runs]
                + [(c, by_id[m["dataset_id"]]) for c, m in members if m["dataset_id"] in by_id])
    found = []
    if runs:
        rows = backbone.store.rows("dataset", " AND ".join(conditions + [f"run IN ({name_list(runs)})"]))
        found.extend((r["run"], r) for r in rows)
    if members:
        rows = {r["id"]: r for r in backbone.store.rows_of_ids(
            "dataset", "id", [m["dataset_id"] for _, m in members], where=where)}
        found.extend((c, rows[m["dataset_id"]]) for c, m in members if m["dataset_id"] in rows)
    return found


def find(backbone, dataset_type, collections, where=None, time=None):
    """The datasets of ``dataset_type`` found along the search path ``collections`` (CHAINED ones
    expanded in order): per data id, the one in the first collection that has it."""
    check_name(dataset_type, "dataset type")
    types = backbone.dataset_types()
    if dataset_type not in types:
        raise NotFoundError(f"unknown dataset type {dataset_type!r}")
    known = backbone.collections()
    path = chains.flatten(known, list(collections))
    dimensions = types[dataset_type]["dimensions"]
    condition = where_condition(where, dimensions)
    data_ids = full_data_ids(where, dimensions)
    keys = None if data_ids is None else {data_id_key(d) for d in data_ids}
    order = {c: i for i, c in enumerate(path)}
    best = {}
    for collection, row in _candidates(backbone, dataset_type, path, {c: known[c][0] for c in path},
                                       condition, time, keys):
        key = row["data_id_key"]
        if key not in best or order[collection] < order[best[key][0]]:
            best[key] = (collection, row)
    chosen = sorted(best.values(), key=lambda item: item[1]["data_id_key"])
    rows = _with_uris(backbone, [row for _, row in chosen])
    return [_public(row, collection) for (collection, _), row in zip(chosen, rows)]


def query_datasets(backbone, dataset_type=None, collections=None, where=None, time_range=None, circle=None):
    """Every dataset (not only the first match) of ``dataset_type`` in ``collections`` matching
    ``where``, whose [t_min, t_max] overlaps ``time_range`` (MJD pair) and whose footprint
    overlaps ``circle`` (ra, dec, radius in degrees)."""
    conditions = []
    if dataset_type is not None:
        conditions.append(f"dataset_type = {literal(check_name(dataset_type, 'dataset type'))}")
    if where:
        conditions.append(where_condition(where))
    if time_range is not None:
        low, high = (float(v) for v in time_range)
        conditions.append(f"t_min <= {high!r} AND t_max >= {low!r}")
    path = None
    if collections:
        known = backbone.collections()
        path = chains.flatten(known, list(collections))
        runs = [c for c in path if known[c][0] == "run"]
        members = {m["dataset_id"] for c in path if known[c][0] in ("tagged", "calibration")
                   for m in backbone._members("tag" if known[c][0] == "tagged" else "calib", c)}
    if circle is not None:
        ids = sky_search(backbone, *circle)
        rows = backbone.store.rows_of_ids("dataset", "id", ids, where=" AND ".join(conditions) or None)
    else:
        rows = backbone.store.rows("dataset", " AND ".join(conditions) or None)
    if path is not None:
        rows = [r for r in rows if r["run"] in runs or r["id"] in members]
    rows.sort(key=lambda r: (r["dataset_type"], r["run"], r["data_id_key"]))
    return [_public(r) for r in _with_uris(backbone, rows)]


def sky_search(backbone, ra, dec, radius_deg):
    """Ids of the datasets whose footprint (a circle) overlaps the circle (ra, dec, radius_deg)."""
    ra, dec, radius_deg = float(ra), float(dec), float(radius_deg)
    if not (-90 <= dec <= 90 and 0 <= radius_deg <= 180):
        raise UserError(f"({ra}, {dec}, {radius_deg}) is not a search circle")
    bound = backbone.store.rows("region_bound", columns="MAX(max_radius_deg) AS r")[0]["r"]
    if bound is None:
        return []
    reach = min(radius_deg + bound, 180.0)
    rows = backbone.engine.query(
        f"SELECT id, ra, dec, radius_deg FROM {backbone.database}.region "
        f"WHERE CONTAINS(POINT(ra, dec), CIRCLE({ra % 360.0!r}, {dec!r}, {reach!r})) = 1")
    if not rows.num_rows:
        return []
    keep = touches(rows["ra"].to_numpy(), rows["dec"].to_numpy(), rows["radius_deg"].to_numpy(), ra, dec, radius_deg)
    return sorted(i for i, k in zip(rows["id"].to_pylist(), keep) if k)


def lineage(backbone, dataset, direction="up", depth=None):
    """[{"output_id", "input_id", "task", "depth"}] reached from ``dataset``: its inputs and
    theirs (``up``) or the datasets made from it and from those (``down``)."""
    if direction not in ("up", "down"):
        raise UserError(f"lineage direction {direction!r}: expected up or down")
    backbone._datasets([dataset])
    near, far = ("output_id", "input_id") if direction == "up" else ("input_id", "output_id")
    edges, frontier, seen, level = [], [check_uuid(dataset)], {check_uuid(dataset)}, 1
    while frontier and (depth is None or level <= depth):
        found = backbone.store.rows_of_ids("provenance", near, frontier)
        edges.extend({**e, "depth": level} for e in sorted(found, key=lambda e: (e["output_id"], e["input_id"])))
        frontier = sorted({e[far] for e in found} - seen)
        seen.update(frontier)
        level += 1
    return edges
