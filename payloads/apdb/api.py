"""The native APDB API over Arrow: an Alert Production database stored in one database of the
core (tables from ``apdb.yaml``, see ``tables``), read with ADQL queries and written by ingest
transactions (one per ``store``: all or nothing, invisible to readers until committed)."""

from dataclasses import asdict, dataclass
import json

import pyarrow as pa

from qserv.errors import UserError

from qserv.payloads.apdb import reads
from qserv.payloads.apdb.store import as_arrow, conform, store_digest, visit_detector_rows, with_version
from qserv.payloads.apdb.tables import (DELETED_COLUMN, LATEST_TABLE, METADATA_TABLE, MOVED_COLUMN, REPLICA_CHUNK_COLUMN,
                                        REPLICA_CHUNKS_TABLE, VERSION_COLUMN, VISIT_DETECTOR_TABLE, apdb_tables,
                                        catalog_tables, latest_rows, latest_spec, replica_specs,
                                        visit_detector_spec)
from qserv.payloads.apdb.updates import ApdbUpdates, replica_chunk_id

SETTINGS_KEY = "qserv:apdb_settings"


@dataclass(frozen=True)
class ApdbSettings:
    schema_file: str = "apdb"          # Felis file, or a bundled lsst-sdm-schemas name
    read_sources_months: int = 12
    read_forced_sources_months: int = 12
    enable_replica: bool = False
    replica_chunk_seconds: int = 600
    max_move_arcsec: float = 60.0      # largest move of a DiaObject between versions (reads by ids)
    purge_after_s: float = 120.0       # superseded DiaObjectLast rows are removed this long after (s)


class Apdb(ApdbUpdates):
    """One APDB in database ``database`` of an open Engine (updates and replica chunks: see
    ``ApdbUpdates``)."""

    def __init__(self, engine, database, settings, tables):
        self.engine, self.database, self.settings, self.tables = engine, database, settings, tables

    # -- creation -----------------------------------------------------------------------------
    @classmethod
    def create(cls, engine, database="apdb", settings=None, chunk_order=7, overlap_arcsec=60.0):
        """Create database ``database`` with the APDB tables and record ``settings`` in it."""
        settings = settings or ApdbSettings()
        apdb = cls(engine, database, settings, apdb_tables(settings.schema_file, replica=settings.enable_replica))
        engine.create_database(database, chunk_order=chunk_order, overlap_arcsec=overlap_arcsec)
        for name, table in apdb.tables.items():
            engine.create_table(f"{database}.{name}", table.spec)
        engine.create_table(f"{database}.{LATEST_TABLE}", latest_spec(apdb.tables["DiaObject"]))
        engine.create_table(f"{database}.{VISIT_DETECTOR_TABLE}", visit_detector_spec())
        if apdb.settings.enable_replica:
            for name, spec in replica_specs().items():
                engine.create_table(f"{database}.{name}", spec)
        apdb.set_metadata(SETTINGS_KEY, json.dumps(asdict(apdb.settings)))
        return apdb

    @classmethod
    def open(cls, engine, database="apdb"):
        """The APDB created earlier in ``database``."""
        probe = cls.__new__(cls)
        probe.engine, probe.database = engine, database
        try:
            stored = probe._metadata_rows().get(SETTINGS_KEY)
        except UserError:  # the query names nothing else: the database or its table is missing
            raise UserError(f"no APDB in database {database!r} (it has no table metadata)") from None
        if stored is None:
            raise UserError(f"database {database!r} is not an APDB (no {SETTINGS_KEY} in its metadata)")
        return cls(engine, database, ApdbSettings(**json.loads(stored)), catalog_tables(engine, database))

    # -- reads --------------------------------------------------------------------------------
    def get_diaobjects(self, region):
        """The latest versions of the DiaObjects in ``region`` (a qserv.sphere Circle/Polygon),
        read from DiaObjectLast (one row per object)."""
        table = self.tables["DiaObject"]
        return self._query(reads.select(self.database, LATEST_TABLE, table.column_names, [reads.in_region(region)],
                                        versioned=False))

    def get_diasources(self, region, object_ids, visit_time, start_time=None):
        """DiaSources in ``region`` (``object_ids`` None) or of ``object_ids``, from the history
        window on; None when ``read_sources_months`` is 0 and no ``start_time`` is given. With
        both, ``region`` prunes the read (as dax_apdb's Cassandra backend uses it): sources of
        ``object_ids`` lying farther than ``max_move_arcsec`` outside it are not read."""
        return self._history("DiaSource", self.settings.read_sources_months, region, object_ids,
                             visit_time, start_time)

    def get_diaforcedsources(self, region, object_ids, visit_time, start_time=None):
        """DiaForcedSources, as ``get_diasources``."""
        return self._history("DiaForcedSource", self.settings.read_forced_sources_months, region,
                             object_ids, visit_time, start_time)

    def contains_visit_detector(self, visit, detector):
        return bool(self._stored_digests([(visit, detector)]))

    # -- writes -------------------------------------------------------------------------------
    def store(self, visit_time, objects, sources=None, forced_sources=None):
        """Store one visit's DiaObjects (their new versions, valid from ``visit_time``), DiaSources
        and DiaForcedSources in one ingest transaction; returns its id. A retry of a store (same
        visit time, (visit, detector) pairs and row ids) is a no-op and returns None."""
        chunk = replica_chunk_id(visit_time, self.settings.replica_chunk_seconds) if self.settings.enable_replica else None
        inputs = {"DiaObject": objects, "DiaSource": sources, "DiaForcedSource": forced_sources}
        batches = {}
        for name, rows in inputs.items():
            if rows is None:
                continue
            fill = {REPLICA_CHUNK_COLUMN: chunk} if chunk is not None else {}
            if name == "DiaObject":
                fill.update(validityStartMjdTai=float(visit_time.tai.mjd), validityEndMjdTai=None)
            batches[name] = conform(as_arrow(rows, name), self.tables[name], 0, fill)
        pairs = _visit_detector_pairs(batches)
        digest = store_digest(visit_time, batches)
        if pairs and self._stored_digests(pairs) >= {digest}:
            return None

        def contents(version):
            written = {name: with_version(rows, version) for name, rows in batches.items()}
            written[VISIT_DETECTOR_TABLE] = visit_detector_rows(pairs, digest, version)
            if chunk is not None:
                written[REPLICA_CHUNKS_TABLE] = self.replica_chunk_row(chunk, visit_time, version)
            return written

        transaction_id = self._write(contents, note=f"apdb store at MJD TAI {visit_time.tai.mjd}")
        self.engine.purge_deleted(self.database, grace_s=self.settings.purge_after_s)
        return transaction_id

    # -- metadata -----------------------------------------------------------------------------
    def get_metadata(self, key, default=None):
        return self._metadata_rows().get(key, default)

    def metadata_items(self):
        return dict(self._metadata_rows())

    def set_metadata(self, key, value):
        """Set (or, with ``value`` None, delete) one metadata item."""
        def contents(version):
            return {METADATA_TABLE: pa.table({"name": [key], "value": [value or ""], VERSION_COLUMN: [version],
                                              DELETED_COLUMN: [value is None]})}
        self._write(contents, note=f"apdb metadata {key}")

    # -- helpers ------------------------------------------------------------------------------
    def _write(self, contents, note):
        """One transaction writing ``contents(transaction_id)`` (table name -> Arrow rows); new
        DiaObject versions replace the ones of their ids in DiaObjectLast."""
        transactions = self.engine.transactions
        transaction_id = transactions.begin(self.database, note=note)
        try:
            written = contents(transaction_id)
            if "DiaObject" in written:
                objects = written["DiaObject"]
                transactions.delete(transaction_id, LATEST_TABLE, "diaObjectId", objects["diaObjectId"])
                written[LATEST_TABLE] = latest_rows(objects)
            for name, rows in written.items():
                if rows.num_rows:
                    transactions.contribute(transaction_id, name, rows, key=f"{self.database}.{name}")
            transactions.commit(transaction_id)
        except BaseException:
            transactions.abort(transaction_id)
            raise
        return transaction_id

    def _query(self, text):
        return self.engine.query(text, lang="adql")

    def _history(self, name, months, region, object_ids, visit_time, start_time):
        if start_time is None and months == 0:
            return None
        start = (float(start_time.tai.mjd) if start_time is not None
                 else reads.history_start_mjd_tai(visit_time, months))
        table = self.tables[name]
        columns = table.column_names
        markers = [MOVED_COLUMN] if name == "DiaSource" else []
        if object_ids is None:
            rows = self._query(reads.select(self.database, name, columns,
                                            [reads.in_region(region), f'"midpointMjdTai" > {start!r}'], markers))
        elif region is not None and len(object_ids):  # one pruned read of the grown region, then the ids
            cap = reads.grown_cap(region, self.settings.max_move_arcsec)
            rows = self._query(reads.select(self.database, name, columns,
                                            [reads.in_region(cap), f'"midpointMjdTai" >= {start!r}'], markers))
            rows = reads.of_ids(rows, "diaObjectId", object_ids)
        else:
            conditions = [[ids, f'"midpointMjdTai" >= {start!r}'] for ids in reads.ids_in("diaObjectId", object_ids)]
            parts = [self._query(reads.select(self.database, name, columns, where, markers))
                     for where in conditions or [["1 = 0"]]]
            rows = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
        return reads.current_rows(rows, table.primary_key, columns)

    def _stored_digests(self, pairs):
        """Digests of the stores that wrote any of the (visit, detector) ``pairs``."""
        pairs = {(int(v), int(d)) for v, d in pairs}
        stored = set()
        for condition in reads.ids_in("visit", {v for v, _ in pairs}):
            rows = self._query(f'SELECT visit, detector, "storeDigest" FROM "{self.database}".'
                               f'"{VISIT_DETECTOR_TABLE}" WHERE {condition}')
            stored.update(digest for v, d, digest in zip(*(rows[c].to_pylist() for c in rows.column_names))
                          if (v, d) in pairs)
        return stored

    def _metadata_rows(self):
        rows = self._query(reads.select(self.database, METADATA_TABLE, ["name", "value"], ["1 = 1"], [DELETED_COLUMN]))
        rows = reads.current_rows(rows, ["name"], ["name", "value"])
        return dict(zip(rows["name"].to_pylist(), rows["value"].to_pylist()))


def _visit_detector_pairs(inputs):
    """The (visit, detector) pairs of a store's sources and forced sources."""
    pairs = set()
    for name in ("DiaSource", "DiaForcedSource"):
        rows = inputs.get(name)
        if rows is not None and {"visit", "detector"} <= set(rows.column_names):
            pairs.update(zip(rows["visit"].to_pylist(), rows["detector"].to_pylist()))
    return {(int(v), int(d)) for v, d in pairs if v is not None and d is not None}
