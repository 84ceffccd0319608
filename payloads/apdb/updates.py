"""Changes to stored APDB rows and replica chunks. Rows are never changed in place: a change is a
new version of the row (higher ``apdbVersion``) written in one ingest transaction together with
its update records, so readers see all of it or none of it (see ``tables``)."""

from collections import Counter
from dataclasses import dataclass
from typing import Callable
import uuid

import pyarrow as pa
import pyarrow.compute as pc

from qserv.errors import UserError

from qserv.payloads.apdb import reads
from qserv.payloads.apdb.store import conform
from qserv.payloads.apdb.tables import (DELETED_COLUMN, LATEST_TABLE, MOVED_COLUMN, REPLICA_CHUNK_COLUMN, REPLICA_CHUNKS_TABLE,
                                        UPDATE_RECORDS_TABLE, VERSION_COLUMN)

DEDUP_KEY = "qserv:dedup_mjd_tai"


class MissingRowsError(UserError, LookupError):
    """Ids given to an update that name no stored row."""

    def __init__(self, table, column, ids):
        self.ids = sorted(ids)
        shown = ", ".join(map(str, self.ids[:20])) + (", ..." if len(self.ids) > 20 else "")
        super().__init__(f"{table}: {len(self.ids)} {column} values do not exist: {shown}")


@dataclass(frozen=True)
class UpdateLog:
    """How a change is recorded for replication: the replica chunk it goes to, and
    ``records(changed rows) -> [(update_time_ns, update_order, payload_json)]``."""

    chunk: int
    chunk_mjd_tai: float
    records: Callable


def replica_chunk_id(time, chunk_seconds):
    """The replica chunk of a time: its start in TAI seconds since 1970 (as dax_apdb numbers them)."""
    seconds = int(time.unix_tai)
    return seconds - seconds % int(chunk_seconds)


class ApdbUpdates:
    """Updates, dedup reads and replica chunks of ``Apdb`` (a mixin; see api.py)."""

    # -- current rows by key ------------------------------------------------------------------
    def current_objects(self, object_ids):
        """The open latest versions of the DiaObjects ``object_ids``."""
        table = self.tables["DiaObject"]
        return reads.latest_objects(self._rows_of("DiaObject", "diaObjectId", object_ids), table.column_names)

    def current_sources(self, source_ids):
        table = self.tables["DiaSource"]
        rows = self._rows_of("DiaSource", "diaSourceId", source_ids, [MOVED_COLUMN])
        return reads.current_rows(rows, table.primary_key, table.column_names)

    def current_forced_sources(self, keys):
        """Current DiaForcedSources of (diaObjectId, visit, detector) ``keys``."""
        table = self.tables["DiaForcedSource"]
        rows = self._rows_of("DiaForcedSource", "diaObjectId", {k[0] for k in keys})
        rows = reads.current_rows(rows, table.primary_key, table.column_names)
        wanted = {tuple(map(int, key)) for key in keys}
        found = zip(rows["diaObjectId"].to_pylist(), rows["visit"].to_pylist(), rows["detector"].to_pylist())
        return rows.filter(pa.array([key in wanted for key in found], type=pa.bool_()))

    # -- updates ------------------------------------------------------------------------------
    def set_validity_end(self, object_ids, end_mjd_tai, log=None, raise_on_missing=False):
        """Close the validity of the open DiaObjects ``object_ids``; returns the rows closed."""
        current = self.current_objects(object_ids)
        missing = {int(i) for i in object_ids} - set(current["diaObjectId"].to_pylist())
        if raise_on_missing and missing:
            raise MissingRowsError("DiaObject", "diaObjectId", missing)
        if current.num_rows:
            self._rewrite({"DiaObject": (current, {"validityEndMjdTai": float(end_mjd_tai)})}, log, current)
        return current

    def reassign_to_objects(self, source_to_object, increment=True, decrement=True, log=None):
        """Move DiaSources (id -> new diaObjectId) and adjust the objects' nDiaSources; returns
        (sources before, {diaObjectId: change of nDiaSources}, objects before)."""
        sources = self._existing_sources(source_to_object)
        before = dict(zip(sources["diaSourceId"].to_pylist(), sources["diaObjectId"].to_pylist()))
        changes = Counter()
        if increment:
            changes.update(int(v) for v in source_to_object.values())
        if decrement:
            changes.subtract(before[int(s)] for s in source_to_object)
        changes = {k: v for k, v in changes.items() if v and k is not None}
        objects = self.current_objects(set(changes) | {int(v) for v in source_to_object.values()})
        missing = {int(v) for v in source_to_object.values()} - set(objects["diaObjectId"].to_pylist())
        if missing:
            raise MissingRowsError("DiaObject", "diaObjectId", missing)
        new_ids = pa.array([int(source_to_object[s]) for s in sources["diaSourceId"].to_pylist()], pa.int64())
        counts = pc.add(objects["nDiaSources"], pa.array(
            [changes.get(i, 0) for i in objects["diaObjectId"].to_pylist()], objects.schema.field("nDiaSources").type))
        changed_objects = objects.set_column(objects.column_names.index("nDiaSources"), "nDiaSources", counts)
        self._rewrite({"DiaSource": (_moved(sources, "diaObjectId", new_ids), {}),
                       "DiaObject": (changed_objects.filter(pc.is_in(changed_objects["diaObjectId"],
                                                                     pa.array(list(changes), pa.int64()))), {})},
                      log, (sources, changes, objects))
        return sources, changes, objects

    def reassign_to_ssobjects(self, source_to_ssobject, time_mjd_tai, log=None):
        """Give DiaSources (id -> ssObjectId) to SSObjects: diaObjectId becomes 0 (as in dax_apdb)."""
        sources = self._existing_sources(source_to_ssobject)
        ss_ids = pa.array([int(source_to_ssobject[s]) for s in sources["diaSourceId"].to_pylist()], pa.int64())
        moved = _moved(sources, "diaObjectId", pa.array([0] * sources.num_rows, pa.int64()))
        moved = _with(moved, "ssObjectId", pa.concat_arrays([sources["ssObjectId"].combine_chunks().cast(pa.int64()), ss_ids]))
        self._rewrite({"DiaSource": (moved, {})}, log, sources, fill_rows=sources.num_rows,
                      fill={"ssObjectReassocTimeMjdTai": float(time_mjd_tai)})
        return sources

    def withdraw_sources(self, source_ids, time_mjd_tai, log=None):
        """Mark DiaSources withdrawn (those not withdrawn yet); returns the rows changed."""
        sources = self._existing_sources({int(i): None for i in source_ids})
        fresh = sources.filter(pc.is_null(sources["timeWithdrawnMjdTai"]))
        if fresh.num_rows:
            self._rewrite({"DiaSource": (fresh, {"timeWithdrawnMjdTai": float(time_mjd_tai)})}, log, fresh)
        return fresh

    def withdraw_forced_sources(self, keys, time_mjd_tai, log=None):
        """Mark DiaForcedSources of (diaObjectId, visit, detector) ``keys`` withdrawn."""
        rows = self.current_forced_sources(keys)
        found = set(zip(rows["diaObjectId"].to_pylist(), rows["visit"].to_pylist(), rows["detector"].to_pylist()))
        if missing := {tuple(map(int, k)) for k in keys} - found:
            raise MissingRowsError("DiaForcedSource", "(diaObjectId, visit, detector)", missing)
        fresh = rows.filter(pc.is_null(rows["timeWithdrawnMjdTai"]))
        if fresh.num_rows:
            self._rewrite({"DiaForcedSource": (fresh, {"timeWithdrawnMjdTai": float(time_mjd_tai)})}, log, fresh)
        return fresh

    # -- dedup and counts ---------------------------------------------------------------------
    def get_diaobjects_for_dedup(self, since_mjd_tai=None):
        """Current versions of the DiaObjects valid from ``since_mjd_tai`` on (default: the last
        ``reset_dedup`` time; all when it was never reset)."""
        if since_mjd_tai is None and (stored := self.get_metadata(DEDUP_KEY)) is not None:
            since_mjd_tai = float(stored)
        table = self.tables["DiaObject"]
        condition = "1 = 1" if since_mjd_tai is None else f'"validityStartMjdTai" >= {float(since_mjd_tai)!r}'
        rows = self._query(reads.select(self.database, "DiaObject", table.column_names, [condition]))
        return reads.current_rows(rows, table.primary_key, table.column_names)

    def reset_dedup(self, dedup_mjd_tai):
        self.set_metadata(DEDUP_KEY, repr(float(dedup_mjd_tai)))

    def count_unassociated_objects(self):
        """How many current DiaObjects have exactly one DiaSource."""
        rows = self._query(f'SELECT COUNT(*) AS n FROM "{self.database}"."{LATEST_TABLE}" WHERE "nDiaSources" = 1')
        return int(rows["n"][0].as_py() or 0)

    # -- replica chunks -----------------------------------------------------------------------
    def replica_chunk_row(self, chunk, time, version, deleted=False):
        mjd = float(time.tai.mjd) if hasattr(time, "tai") else float(time)
        return pa.table({REPLICA_CHUNK_COLUMN: pa.array([chunk], pa.int64()), "last_update_mjd_tai": [mjd],
                         "unique_id": [str(uuid.uuid4())], DELETED_COLUMN: [deleted],
                         VERSION_COLUMN: pa.array([version], pa.int64())})

    def replica_chunks(self):
        """Current replica chunks (apdb_replica_chunk, last_update_mjd_tai, unique_id), by chunk."""
        columns = [REPLICA_CHUNK_COLUMN, "last_update_mjd_tai", "unique_id"]
        rows = self._query(reads.select(self.database, REPLICA_CHUNKS_TABLE, columns, ["1 = 1"], [DELETED_COLUMN]))
        return reads.current_rows(rows, [REPLICA_CHUNK_COLUMN], columns).sort_by(REPLICA_CHUNK_COLUMN)

    def delete_replica_chunks(self, chunks):
        chunks = sorted({int(c) for c in chunks})
        if chunks:
            self._write(lambda version: {REPLICA_CHUNKS_TABLE: pa.concat_tables(
                [self.replica_chunk_row(c, 0.0, version, deleted=True) for c in chunks])}, note="apdb delete chunks")

    def table_chunk_rows(self, name, chunks):
        """Rows ``name`` stored in the live replica chunks among ``chunks`` (Felis columns and
        apdb_replica_chunk)."""
        columns = [*self.tables[name].column_names, REPLICA_CHUNK_COLUMN]
        return self._chunk_rows(name, columns, chunks)

    def update_record_rows(self, chunks):
        columns = [REPLICA_CHUNK_COLUMN, "update_time_ns", "update_order", "update_unique_id", "update_payload"]
        rows = self._chunk_rows(UPDATE_RECORDS_TABLE, columns, chunks)
        return rows.sort_by([("update_time_ns", "ascending"), ("update_order", "ascending")])

    def store_update_records(self, log, rows=None):
        """Write the records of ``log`` (for ``rows``) and its chunk in one transaction."""
        self._write(lambda version: self._log_contents(log, rows, version), note="apdb update records")

    # -- helpers ------------------------------------------------------------------------------
    def _rows_of(self, name, column, ids, markers=()):
        columns = self.tables[name].column_names
        conditions = reads.ids_in(column, ids) or ["1 = 0"]
        parts = [self._query(reads.select(self.database, name, columns, [c], markers)) for c in conditions]
        return pa.concat_tables(parts) if len(parts) > 1 else parts[0]

    def _existing_sources(self, by_id):
        sources = self.current_sources(list(by_id))
        if missing := {int(i) for i in by_id} - set(sources["diaSourceId"].to_pylist()):
            raise MissingRowsError("DiaSource", "diaSourceId", missing)
        return sources

    def _chunk_rows(self, name, columns, chunks):
        live = set(self.replica_chunks()[REPLICA_CHUNK_COLUMN].to_pylist()) & {int(c) for c in chunks}
        condition = reads.ids_in(REPLICA_CHUNK_COLUMN, live)
        parts = [self._query(f'SELECT {", ".join(f"{chr(34)}{c}{chr(34)}" for c in columns)} '
                             f'FROM "{self.database}"."{name}" WHERE {c}') for c in condition or ["1 = 0"]]
        return pa.concat_tables(parts) if len(parts) > 1 else parts[0]

    def _rewrite(self, changes, log, logged_rows, fill_rows=None, fill=None):
        """New versions of rows: ``changes`` maps a table to (rows, {column: value for all})."""
        def contents(version):
            batches = {name: conform(rows, self.tables[name], version, dict(values), unique=False)
                       for name, (rows, values) in changes.items() if rows.num_rows}
            if fill and "DiaSource" in batches:  # the moved rows' new versions only
                batches["DiaSource"] = _fill_new(batches["DiaSource"], fill_rows, fill)
            if log is not None:
                batches.update(self._log_contents(log, logged_rows, version))
            return batches
        self._write(contents, note="apdb update")

    def _log_contents(self, log, rows, version):
        records = log.records(rows)
        if not records:
            return {}
        table = pa.table({REPLICA_CHUNK_COLUMN: pa.array([log.chunk] * len(records), pa.int64()),
                          "update_time_ns": pa.array([r[0] for r in records], pa.int64()),
                          "update_order": pa.array([r[1] for r in records], pa.int32()),
                          "update_unique_id": [str(uuid.uuid4()) for _ in records],
                          "update_payload": [r[2] for r in records],
                          VERSION_COLUMN: pa.array([version] * len(records), pa.int64())})
        return {UPDATE_RECORDS_TABLE: table,
                REPLICA_CHUNKS_TABLE: self.replica_chunk_row(log.chunk, log.chunk_mjd_tai, version)}


def _with(rows, name, values):
    return rows.set_column(rows.column_names.index(name), name, values)


def _moved(rows, column, new_values):
    """The old rows marked moved (they end the rows under their old ``column`` value), then the
    rows with ``column`` set to ``new_values``."""
    ends = rows.append_column(MOVED_COLUMN, pa.array([True] * rows.num_rows))
    moved = _with(rows, column, new_values.cast(rows.schema.field(column).type))
    moved = moved.append_column(MOVED_COLUMN, pa.array([False] * rows.num_rows))
    return pa.concat_tables([ends, moved])


def _fill_new(batch, count, fill):
    """``batch`` with ``fill`` values set in its last ``count`` rows."""
    for name, value in fill.items():
        column = batch[name].combine_chunks()
        values = pa.concat_arrays([column.slice(0, batch.num_rows - count),
                                   pa.array([value] * count, column.type)])
        batch = _with(batch, name, values)
    return batch
