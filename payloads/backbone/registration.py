"""Bulk registration: every input row is checked before anything is written (an unknown dataset
type or dimension, a missing dimension, a bad position refuse the whole input), then each batch
is one ingest transaction (datasets, artifacts, one replica each, provenance, footprints) followed
by its ObsCore rows. Re-registering is idempotent: dataset ids are UUID5s of type, data id and run,
ids already stored are skipped, and ObsCore rows missing for stored datasets are added."""

import time

from qserv.errors import ConflictError, NotFoundError, UserError

from qserv.payloads.backbone import obscore
from qserv.payloads.backbone.model import (DIMENSIONS, check_name, check_uuid, data_id_key, dataset_id,
                                           lookup_key, normalize_data_id)
from qserv.payloads.backbone.sky import footprint
from qserv.payloads.backbone.store import arrow_rows, literal

FIELDS = {"dataset_type", "uri", "size", "checksum", "format", "s_ra", "s_dec", "s_fov", "s_region",
          "t_min", "t_max", "inputs", "task", "run"}
METADATA_DIMENSIONS = {"band"}  # may be given for ObsCore (em_min/em_max) without being a dimension


def _number(row, name, index):
    value = row.get(name)
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UserError(f"row {index}: {name} {value!r} is not a number") from None


class Registration:
    def prepare(self, run, rows):
        """The records of ``rows`` (dicts), checked; raises UserError naming the first bad row."""
        types = self.dataset_types()
        ingest_mjd = time.time() / 86400.0 + 40587.0
        records, by_id = [], {}
        for index, row in enumerate(rows, start=1):
            unknown = [k for k, v in row.items() if k not in FIELDS and k not in DIMENSIONS and v is not None]
            if unknown:
                raise UserError(f"row {index}: unknown column(s) or dimension(s) {', '.join(map(repr, unknown))}")
            if row.get("run") not in (None, run):
                raise UserError(f"row {index}: run {row['run']!r} differs from --run {run!r}")
            name = row.get("dataset_type")
            if name not in types:
                raise NotFoundError(f"row {index}: unknown dataset type {name!r}")
            dimensions = types[name]["dimensions"]
            given = {k: row.get(k) for k in DIMENSIONS if k in dimensions or row.get(k) is not None}
            metadata = {k: given.pop(k) for k in METADATA_DIMENSIONS if k not in dimensions and k in given}
            try:
                data_id = normalize_data_id(given, dimensions, name)
            except UserError as error:
                raise UserError(f"row {index}: {error}") from None
            uri = row.get("uri")
            if not isinstance(uri, str) or not uri:
                raise UserError(f"row {index}: a dataset needs a uri")
            try:
                place = footprint(row)
            except UserError as error:
                raise UserError(f"row {index}: {error}") from None
            key = data_id_key(data_id)
            ident = dataset_id(name, data_id, run, key)
            record = {"id": ident, "dataset_type": name, "run": run, "data_id_key": key,
                      "lookup_key": lookup_key(name, key),
                      **data_id, **metadata, "uri": uri, "size": row.get("size"), "checksum": row.get("checksum"),
                      "format": row.get("format"), "t_min": _number(row, "t_min", index),
                      "t_max": _number(row, "t_max", index), "ingest_mjd": ingest_mjd, "task": row.get("task"),
                      "inputs": [check_uuid(i) for i in row.get("inputs") or []]}
            if place is not None:
                record.update(zip(("ra", "dec", "radius_deg", "s_region"), place))
            if ident in by_id:
                if by_id[ident]["uri"] != uri:
                    raise ConflictError(f"row {index}: the same dataset ({name} {record['data_id_key']}) "
                                        f"twice with different uris")
                continue
            by_id[ident] = record
            records.append(record)
        inputs = {i for r in records for i in r["inputs"]} - set(by_id)
        if inputs:
            found = {r["id"] for r in self.store.rows_of_ids("dataset", "id", sorted(inputs), columns="t.id")}
            if inputs - found:
                raise NotFoundError(f"input dataset {sorted(inputs - found)[0]!r} is not registered")
        return records

    def register(self, run, rows, site="local", batch_rows=100_000):
        """Register datasets of RUN collection ``run`` (created if missing) with their artifact
        and a replica at ``site`` (added if missing). -> {"registered", "existing", "ids"}."""
        check_name(run, "collection")
        check_name(site, "site")
        rows = rows.to_pylist() if hasattr(rows, "to_pylist") else list(rows)
        records = self.prepare(run, rows)
        self.add_collection(run, "run")
        self.add_site(site)
        storage = {name: t["storage_class"] for name, t in self.dataset_types().items()}
        registered = existing = 0
        # ids are UUID5s including the run: those already stored are among the run's datasets
        stored = {r["id"] for r in self.store.rows("dataset", f"run = {literal(run)}", columns="id")}
        published = {r["obs_id"] for r in self.engine.query(
            f"SELECT obs_id FROM {obscore.DATABASE}.{obscore.TABLE} "
            f"WHERE obs_collection = {literal(run)}").to_pylist()}
        for start in range(0, len(records), batch_rows):
            batch = records[start:start + batch_rows]
            new = [r for r in batch if r["id"] not in stored]
            existing += len(batch) - len(new)
            if new:
                self.store.write(lambda version: _batch_rows(new, site, version))
                registered += len(new)
            missing = [r for r in batch if "ra" in r and r["id"] not in published]
            if missing:
                spec = obscore.obscore_spec()
                self.engine.ingest(f"{obscore.DATABASE}.{obscore.TABLE}",
                                   [arrow_rows(spec, obscore.obscore_rows(missing, storage, self.database))])
        return {"registered": registered, "existing": existing, "ids": [r["id"] for r in records]}


def _batch_rows(records, site, version):
    spatial = [r for r in records if "ra" in r]
    return {
        "dataset": records,
        "artifact": [{"dataset_id": r["id"], **r} for r in records],
        "replica": [{"dataset_id": r["id"], "site": site, "state": "ok", "verified_mjd": r["ingest_mjd"],
                     "version": version} for r in records],
        "provenance": [{"output_id": r["id"], "input_id": i, "task": r["task"]} for r in records for i in r["inputs"]],
        "region": spatial,
        "region_bound": ([{"max_radius_deg": max(r["radius_deg"] for r in spatial), "version": version}]
                         if spatial else []),
    }
