"""The alert archive in one database of the core: table ``Alert`` (a director table placed by the
triggering source's position, diaSourceId the id; the searchable fields of each alert and its
wire-format packet gzipped) and table ``AlertSchema`` (replicated: every schema a stored packet
was written with, by id, so that any packet can be read back without a registry).

Each ``store`` is one ingest transaction: the alerts and the schemas they need appear together or
not at all. Storing is idempotent by diaSourceId: alerts already archived are skipped, or with
``replace=True`` replaced (deleted in the same transaction)."""

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
import json
import os
import zlib

import numpy as np
import pyarrow as pa

from qserv.errors import InputError, NotFoundError
from qserv.schema.columns import Column
from qserv.storage import quote

from qserv.payloads.alerts import search as searches
from qserv.payloads.alerts.packets import searchable_rows
from qserv.payloads.alerts.wire import (AlertSchema, PacketError, decode, encode, full_name, header_schema_id,
                                        packaged_schema)
from qserv.payloads.apdb.visit import field_circle

ALERT_TABLE = "Alert"
SCHEMA_TABLE = "AlertSchema"
GZIP_LEVEL = 1  # fastest: ~50 us per 6 KB packet against ~75 at level 6, 1-2 % larger
_GZIP_WBITS = 31  # zlib's gzip container
EXISTING_MARGIN_ARCSEC = 60.0  # a re-published alert is found this far from its archived position
EXISTING_MARGIN_DAYS = 1.0     # ... and this long from its archived midpoint

ALERT_COLUMNS = [
    Column("diaSourceId", "long", nullable=False, ucd="meta.id;meta.main",
           description="alert id (the triggering DiaSource)"),
    Column("diaObjectId", "long", description="DiaObject of the source"),
    Column("ssObjectId", "long", description="SSObject of the source"),
    Column("visit", "long", nullable=False),
    Column("detector", "int", nullable=False),
    Column("band", "string"),
    Column("ra", "double", nullable=False, unit="deg", ucd="pos.eq.ra;meta.main"),
    Column("dec", "double", nullable=False, unit="deg", ucd="pos.eq.dec;meta.main"),
    Column("midpointMjdTai", "double", nullable=False, unit="d", ucd="time.epoch"),
    Column("psfFlux", "float", unit="nJy"),
    Column("psfFluxErr", "float", unit="nJy"),
    Column("snr", "float"),
    Column("reliability", "float"),
    Column("isNegative", "boolean"),
    Column("hasSsSource", "boolean", nullable=False, description="the packet carries an ssSource"),
    Column("schemaId", "int", nullable=False, description="alert schema id (see AlertSchema)"),
    Column("packetBytes", "int", nullable=False, unit="byte", description="size of the wire-format packet"),
    Column("packet", "binary", nullable=False, description="the wire-format packet (Confluent header + Avro), gzipped"),
]
SCHEMA_COLUMNS = [Column("schemaId", "int", nullable=False), Column("name", "string", nullable=False),
                  Column("definition", "text", nullable=False, description="the Avro schema (JSON)")]


@dataclass(frozen=True)
class StoreResult:
    stored: int
    skipped: int
    replaced: int
    transaction_id: int | None


def table_specs():
    from qserv.meta.admin import TableSpec

    return {ALERT_TABLE: TableSpec(kind="director", columns=ALERT_COLUMNS, id_column="diaSourceId", ra_column="ra",
                                   dec_column="dec", description="alert packets with their searchable fields"),
            SCHEMA_TABLE: TableSpec(kind="replicated", columns=SCHEMA_COLUMNS,
                                    description="alert schemas by id (Confluent wire-format header)")}


def gzip_packet(packet):
    return zlib.compress(packet, GZIP_LEVEL, wbits=_GZIP_WBITS)


def gzip_packets(packets):
    """``gzip_packet`` of each packet, on a thread per CPU (zlib releases the GIL)."""
    threads = max(1, min(os.cpu_count() or 1, len(packets) // 1000))
    if threads == 1:
        return [gzip_packet(p) for p in packets]
    step = -(-len(packets) // threads)
    with ThreadPoolExecutor(threads) as pool:
        parts = pool.map(lambda start: [gzip_packet(p) for p in packets[start:start + step]],
                         range(0, len(packets), step))
        return [stored for part in parts for stored in part]


def gunzip_packet(stored):
    return zlib.decompress(stored, wbits=_GZIP_WBITS)


class AlertArchive:
    """The alert archive in ``database`` of an open Engine."""

    def __init__(self, engine, database):
        self.engine, self.database = engine, database
        self._schemas = {}

    @classmethod
    def create(cls, engine, database="alerts", chunk_order=7, overlap_arcsec=60.0):
        engine.create_database(database, chunk_order=chunk_order, overlap_arcsec=overlap_arcsec)
        for name, spec in table_specs().items():
            engine.create_table(f"{database}.{name}", spec)
        # an object's alerts spread over months of ingest: the workers find them by this index
        engine.create_index(f"{database}.{ALERT_TABLE}", "diaObjectId")
        return cls(engine, database)

    @classmethod
    def open(cls, engine, database="alerts"):
        from qserv.meta.catalog import get_database

        with engine.store.session() as session:
            names = {table.name for table in get_database(session, database).tables}
        if not {ALERT_TABLE, SCHEMA_TABLE} <= names:
            raise NotFoundError(f"database {database!r} holds no alert archive (create it: qserv alerts create)")
        return cls(engine, database)

    # -- writes ---------------------------------------------------------------------------------
    def store_records(self, alerts, schema, replace=False):
        """Archive alert records (dicts of ``schema``) in one transaction."""
        packets = [encode(alert, schema) for alert in alerts]
        return self.store_decoded(alerts, packets, {schema.schema_id: schema}, replace)

    def store_packets(self, packets, replace=False):
        """Archive wire-format packets (each decoded with the schema of its header id: one this
        archive holds or one of lsst-alert-packet) in one transaction."""
        schemas, alerts = {}, []
        for number, packet in enumerate(packets, 1):
            schema_id = header_schema_id(packet)
            if schema_id not in schemas:
                try:
                    schemas[schema_id] = self.schema(schema_id)
                except NotFoundError:
                    raise PacketError(f"packet {number}: unknown schema id {schema_id}") from None
            alerts.append(decode(packet, schemas[schema_id]))
        return self.store_decoded(alerts, list(packets), schemas, replace)

    def store_decoded(self, alerts, packets, schemas, replace=False):
        """Archive ``alerts`` (records) with their wire-format ``packets`` (same order) written
        with ``schemas`` (id -> AlertSchema) in one transaction."""
        return self.store_columns(searchable_rows(alerts), packets, schemas, replace)

    def store_columns(self, columns, packets, schemas, replace=False):
        """Archive wire-format ``packets`` whose searchable fields are ``columns`` (name -> values
        in packet order: ``packets.searchable_rows`` of their records) in one transaction."""
        from qserv.schema.types import arrow_type

        fields = pa.table({c.name: _as_array(columns[c.name], arrow_type(c)) for c in ALERT_COLUMNS
                           if c.name in columns})
        ids = fields.column("diaSourceId").to_numpy()
        unique, counts = np.unique(ids, return_counts=True)
        if len(unique) != len(ids):
            raise InputError("alerts", f"diaSourceId {unique[counts > 1][0]} appears twice", column="diaSourceId")
        existing = self._existing_ids(fields)
        keep = np.arange(len(ids)) if replace else np.flatnonzero(~np.isin(ids, list(existing)))
        if not len(keep):
            return StoreResult(0, len(ids), 0, None)
        rows = self._rows(fields.take(keep), [packets[i] for i in keep.tolist()])
        new_schemas = [s for i, s in sorted(schemas.items()) if i not in self._stored_schema_ids()]
        transactions = self.engine.transactions
        transaction_id = transactions.begin(self.database, note=f"alerts: {len(keep)} packets")
        try:
            if replace and existing:
                self.engine.delete_rows(self._qualified(ALERT_TABLE), "diaSourceId", sorted(existing),
                                        transaction_id=transaction_id)
            transactions.contribute(transaction_id, ALERT_TABLE, rows, key=f"{self.database}.{ALERT_TABLE}")
            if new_schemas:
                transactions.contribute(transaction_id, SCHEMA_TABLE, _schema_rows(new_schemas),
                                        key=f"{self.database}.{SCHEMA_TABLE}")
            transactions.commit(transaction_id)
        except BaseException:
            transactions.abort(transaction_id)
            raise
        return StoreResult(len(keep), len(ids) - len(keep), len(existing) if replace else 0, transaction_id)

    def _rows(self, fields, packets):
        from qserv.schema.types import arrow_type

        extra = {"schemaId": [header_schema_id(p) for p in packets], "packetBytes": [len(p) for p in packets],
                 "packet": gzip_packets(packets)}
        return pa.table({c.name: fields.column(c.name) if c.name in fields.column_names
                         else pa.array(extra[c.name], type=arrow_type(c)) for c in ALERT_COLUMNS})

    # -- reads ----------------------------------------------------------------------------------
    def get(self, alert_id):
        """The wire-format packet of alert ``alert_id``."""
        rows = self._select(["packet"], [f'"diaSourceId" = {int(alert_id)}'])
        if rows.num_rows == 0:
            raise NotFoundError(f"no alert {int(alert_id)} in archive {self.database}")
        return gunzip_packet(rows.column("packet")[0].as_py())

    def search(self, search):
        """The wire-format packets matching ``search`` (a search.Search), in (midpointMjdTai,
        diaSourceId) order."""
        rows = self.search_rows(search, ["diaSourceId", "midpointMjdTai", "packet"])
        return [gunzip_packet(p) for p in rows.column("packet").to_pylist()]

    def search_rows(self, search, columns):
        rows = self._select(columns, searches.conditions(search) or ["1 = 1"], search.limit)
        if {"midpointMjdTai", "diaSourceId"} <= set(columns):
            rows = rows.sort_by([("midpointMjdTai", "ascending"), ("diaSourceId", "ascending")])
        return rows

    def object_alerts(self, object_id):
        return self.search(searches.Search(object_id=int(object_id)))

    def decode(self, packet):
        """The record of a wire-format packet (with the schema of its header id)."""
        return decode(packet, self.schema(header_schema_id(packet)))

    def schema(self, schema_id):
        """The AlertSchema ``schema_id``: as stored here, else lsst-alert-packet's."""
        schema_id = int(schema_id)
        if schema_id not in self._schemas:
            rows = self.engine.query(f"SELECT definition FROM {self._qualified_sql(SCHEMA_TABLE)} "
                                     f'WHERE "schemaId" = {schema_id}', lang="adql")
            self._schemas[schema_id] = (AlertSchema(schema_id, json.loads(rows.column("definition")[0].as_py()))
                                        if rows.num_rows else packaged_schema(schema_id))
        return self._schemas[schema_id]

    def _stored_schema_ids(self):
        rows = self.engine.query(f'SELECT "schemaId" FROM {self._qualified_sql(SCHEMA_TABLE)}', lang="adql")
        return set(rows.column("schemaId").to_pylist())

    def _existing_ids(self, fields):
        """The ids of the alerts of ``fields`` (their searchable columns) archived already. Read by
        place and time (an IN list of many ids costs more to parse than to run): the ids near the
        alerts' sources (their field widened by ``EXISTING_MARGIN_ARCSEC``) within
        ``EXISTING_MARGIN_DAYS`` of their midpoints."""
        if fields.num_rows == 0:
            return set()
        times, ra, dec = (fields.column(name).to_numpy(zero_copy_only=False).astype(float)
                          for name in ("midpointMjdTai", "ra", "dec"))
        field = field_circle(ra, dec, EXISTING_MARGIN_ARCSEC)
        near = searches.Search(cone=(field.ra_deg, field.dec_deg, field.radius_deg),
                               since_mjd_tai=float(times.min()) - EXISTING_MARGIN_DAYS,
                               until_mjd_tai=float(times.max()) + EXISTING_MARGIN_DAYS)
        found = self._select(["diaSourceId"], searches.conditions(near)).column("diaSourceId").to_numpy()
        ids = fields.column("diaSourceId").to_numpy()
        return set(ids[np.isin(ids, found)].tolist())

    def _select(self, columns, conditions, limit=None):
        top = f"TOP {int(limit)} " if limit is not None else ""
        names = ", ".join(quote(name) for name in columns)
        return self.engine.query(f"SELECT {top}{names} FROM {self._qualified_sql(ALERT_TABLE)} "
                                 f"WHERE {' AND '.join(conditions)}", lang="adql")

    def _qualified(self, table):
        return f"{self.database}.{table}"

    def _qualified_sql(self, table):
        return f"{quote(self.database)}.{quote(table)}"


def _as_array(values, arrow_type):
    """``values`` (a list, numpy or Arrow array) as an Arrow array of ``arrow_type``."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values.cast(arrow_type)
    return pa.array(values, type=arrow_type)


def _schema_rows(schemas):
    return pa.table({"schemaId": pa.array([s.schema_id for s in schemas], pa.int32()),
                     "name": [full_name(s.definition) for s in schemas],
                     "definition": [s.text for s in schemas]})
