"""ApdbQserv: lsst.dax.apdb's ``Apdb`` interface over the native APDB (qserv.payloads.apdb)."""

from dataclasses import replace
import json
import logging

from lsst.dax.apdb import (Apdb, ApdbCloseDiaObjectValidityRecord, ApdbReassignDiaSourceToDiaObjectRecord,
                           ApdbReassignDiaSourceToSSObjectRecord, ApdbTables, ApdbUpdateNDiaSourcesRecord,
                           ApdbWithdrawDiaForcedSourceRecord, ApdbWithdrawDiaSourceRecord,
                           IncompatibleVersionError, ReplicaChunk, VersionTuple)
from lsst.dax.apdb.apdbSchema import ApdbSchema

from qserv.errors import UserError
from qserv.payloads.apdb import Apdb as NativeApdb, ApdbSettings
from qserv.payloads.apdb.rubin.admin import QservAdmin
from qserv.payloads.apdb.rubin.config import ApdbQservConfig
from qserv.payloads.apdb.rubin.engines import engine_for
from qserv.payloads.apdb.rubin.frames import to_frame, to_region
from qserv.payloads.apdb.rubin.metadata import QservMetadata
from qserv.payloads.apdb.rubin.schema_files import local_schema_file
from qserv.payloads.apdb.updates import MissingRowsError, UpdateLog
from qserv.payloads.apdb.visit import field_circle

_LOG = logging.getLogger("lsst.dax.apdb.qserv")  # under lsst.dax.apdb, as its other backends log
SCHEMA_VERSION_KEY = "version:schema"
CODE_VERSION_KEY = "version:ApdbQserv"
REPLICA_VERSION_KEY = "version:ApdbQservReplica"
CONFIG_KEY = "config:apdb-qserv.json"
FROZEN = ("enable_replica", "read_sources_months", "read_forced_sources_months", "replica_chunk_seconds")
CODE_VERSION = VersionTuple(1, 0, 0)
REPLICA_CODE_VERSION = VersionTuple(1, 0, 0)


class ApdbQserv(Apdb):
    """An APDB in a database of a qserv instance (``ApdbQservConfig``: home and database)."""

    def __init__(self, config):
        self.config = config
        self._schema = ApdbSchema(config.schema_file, config.ss_schema_file)
        self.native = NativeApdb.open(engine_for(config.home), config.database)
        self.native.settings = replace(self.native.settings, max_move_arcsec=config.max_move_arcsec)
        self._metadata = QservMetadata(self.native)
        self._check_versions()
        frozen = json.loads(self.native.get_metadata(CONFIG_KEY) or "{}")
        self._frozen_config = config.model_copy(update=frozen)

    @classmethod
    def apdbImplementationVersion(cls):
        return CODE_VERSION

    @classmethod
    def init_database(cls, home, *, database="apdb", schema_file=None, ss_schema_file=None,
                      read_sources_months=None, read_forced_sources_months=None, enable_replica=False,
                      replica_chunk_seconds=None, ra_dec_columns=None, prefix=None, drop=False,
                      chunk_order=7, **ignored):
        """Create an APDB in database ``prefix + database`` of the qserv instance at ``home`` (or
        use the one there) and return its config. Keywords as ``ApdbSql.init_database``; the
        ones of SQL connections and indexes (``db_url``, ``htm_level``, ...) do not apply."""
        if ra_dec_columns not in (None, ("ra", "dec"), ["ra", "dec"]):
            raise UserError("the qserv APDB places rows by columns ra and dec; ra_dec_columns cannot differ")
        values = {"home": str(home), "database": f"{prefix or ''}{database}", "enable_replica": enable_replica,
                  "schema_file": schema_file, "ss_schema_file": ss_schema_file,
                  "read_sources_months": read_sources_months, "replica_chunk_seconds": replica_chunk_seconds,
                  "read_forced_sources_months": read_forced_sources_months}
        config = ApdbQservConfig(**{k: v for k, v in values.items() if v is not None})
        engine = engine_for(home)
        if config.database in {name for name, *_ in _databases(engine)}:
            if drop:
                raise UserError(f"database {config.database!r} exists and qserv does not drop databases; "
                                f"choose another database or prefix")
            return config
        settings = ApdbSettings(schema_file=str(local_schema_file(config.schema_file)),
                                read_sources_months=config.read_sources_months,
                                read_forced_sources_months=config.read_forced_sources_months,
                                enable_replica=config.enable_replica,
                                replica_chunk_seconds=config.replica_chunk_seconds)
        native = NativeApdb.create(engine, config.database, settings, chunk_order=chunk_order)
        schema = ApdbSchema(config.schema_file, config.ss_schema_file)
        native.set_metadata(SCHEMA_VERSION_KEY, str(schema.schemaVersion()))
        native.set_metadata(CODE_VERSION_KEY, str(CODE_VERSION))
        if config.enable_replica:
            native.set_metadata(REPLICA_VERSION_KEY, str(REPLICA_CODE_VERSION))
        native.set_metadata(CONFIG_KEY, json.dumps({name: getattr(config, name) for name in FROZEN}))
        return config

    def get_replica(self):
        from qserv.payloads.apdb.rubin.replica import ApdbQservReplica

        return ApdbQservReplica(self)

    def getConfig(self):
        return self._frozen_config

    def tableDef(self, table):
        return self._schema.tableSchemas.get(table)

    # -- reads --------------------------------------------------------------------------------
    def getDiaObjects(self, region):
        return self._frame(self.native.get_diaobjects(to_region(region)), ApdbTables.DiaObject)

    def getDiaSources(self, region, object_ids, visit_time, start_time=None):
        rows = self.native.get_diasources(_region(region), _ids(object_ids), visit_time, start_time)
        return None if rows is None else self._frame(rows, ApdbTables.DiaSource)

    def getDiaForcedSources(self, region, object_ids, visit_time, start_time=None):
        rows = self.native.get_diaforcedsources(_region(region), _ids(object_ids), visit_time, start_time)
        return None if rows is None else self._frame(rows, ApdbTables.DiaForcedSource)

    def getDiaObjectsForDedup(self, since=None):
        rows = self.native.get_diaobjects_for_dedup(None if since is None else since.tai.mjd)
        return self._frame(rows, ApdbTables.DiaObject)

    def getDiaSourcesForDiaObjects(self, objects, start_time, max_dist_arcsec=1.0):
        """The region about the objects' positions (widened by ``max_dist_arcsec``) prunes the read."""
        ids = sorted({o.diaObjectId for o in objects})
        region = field_circle([o.ra for o in objects], [o.dec for o in objects], max_dist_arcsec) if ids else None
        return self._frame(self.native.get_diasources(region, ids, start_time, start_time), ApdbTables.DiaSource)

    def containsVisitDetector(self, visit, detector, region=None, visit_time=None):
        return self.native.contains_visit_detector(visit, detector)

    def countUnassociatedObjects(self):
        return self.native.count_unassociated_objects()

    # -- writes -------------------------------------------------------------------------------
    def store(self, visit_time, objects, sources=None, forced_sources=None):
        if len(objects) == 0:
            _LOG.debug("No objects to write to database.")
        self.native.store(visit_time, objects, sources, forced_sources)

    def reassignDiaSourcesToDiaObjects(self, idMap, *, increment_nDiaSources=True, decrement_nDiaSources=True):
        def records(logged, stamp):
            sources, changes, objects = logged
            by_object = {r["diaObjectId"]: r for r in objects.to_pylist()}
            out = [ApdbReassignDiaSourceToDiaObjectRecord(
                diaSourceId=s["diaSourceId"], ra=s["ra"], dec=s["dec"], midpointMjdTai=s["midpointMjdTai"],
                diaObjectId=mapping[s["diaSourceId"]], update_time_ns=stamp, update_order=0)
                for s in sources.to_pylist()]
            out += [ApdbUpdateNDiaSourcesRecord(
                diaObjectId=i, ra=by_object[i]["ra"], dec=by_object[i]["dec"],
                nDiaSources=by_object[i]["nDiaSources"] + change, update_time_ns=stamp, update_order=0)
                for i, change in changes.items()]
            return out

        mapping = {source.diaSourceId: int(object_id) for source, object_id in idMap.items()}
        self.native.reassign_to_objects(mapping, increment_nDiaSources, decrement_nDiaSources, self._log(records))

    def setValidityEnd(self, objects, validityEnd, raise_on_missing_id=False):
        def records(rows, stamp):
            return [ApdbCloseDiaObjectValidityRecord(
                diaObjectId=r["diaObjectId"], ra=r["ra"], dec=r["dec"], update_time_ns=stamp, update_order=0,
                validityEndMjdTai=float(validityEnd.tai.mjd), nDiaSources=None) for r in rows.to_pylist()]

        if not objects:
            return 0
        closed = self.native.set_validity_end([o.diaObjectId for o in objects], validityEnd.tai.mjd,
                                              self._log(records), raise_on_missing_id)
        return closed.num_rows

    def resetDedup(self, dedup_time=None):
        self.native.reset_dedup((dedup_time or self._current_time()).tai.mjd)

    def reassignDiaSources(self, idMap):
        def records(rows, stamp):
            return [ApdbReassignDiaSourceToSSObjectRecord(
                diaSourceId=r["diaSourceId"], ra=r["ra"], dec=r["dec"], midpointMjdTai=r["midpointMjdTai"],
                ssObjectId=idMap[r["diaSourceId"]], ssObjectReassocTimeMjdTai=now.tai.mjd,
                update_time_ns=stamp, update_order=0) for r in rows.to_pylist()]

        now = self._current_time()
        try:
            self.native.reassign_to_ssobjects(dict(idMap), now.tai.mjd, self._log(records))
        except MissingRowsError as error:
            missing = ",".join(map(str, error.ids))
            raise ValueError(f"Following DiaSource IDs do not exist in the database: {missing}") from None

    def withdrawDiaSources(self, diaSourceIds, *, timeWithdrawn=None):
        when = timeWithdrawn or self._current_time()

        def records(rows, stamp):
            return [ApdbWithdrawDiaSourceRecord(
                diaSourceId=r["diaSourceId"], ra=r["ra"], dec=r["dec"], midpointMjdTai=r["midpointMjdTai"],
                timeWithdrawnMjdTai=float(when.tai.mjd), update_time_ns=stamp, update_order=0)
                for r in rows.to_pylist()]

        self.native.withdraw_sources([s.diaSourceId for s in diaSourceIds], when.tai.mjd, self._log(records))

    def withdrawDiaForcedSources(self, diaForcedSourceIds, *, timeWithdrawn=None):
        when = timeWithdrawn or self._current_time()

        def records(rows, stamp):
            return [ApdbWithdrawDiaForcedSourceRecord(
                diaObjectId=r["diaObjectId"], visit=r["visit"], detector=r["detector"], ra=r["ra"], dec=r["dec"],
                midpointMjdTai=r["midpointMjdTai"], timeWithdrawnMjdTai=float(when.tai.mjd),
                update_time_ns=stamp, update_order=0) for r in rows.to_pylist()]

        keys = [(s.diaObjectId, s.visit, s.detector) for s in diaForcedSourceIds]
        self.native.withdraw_forced_sources(keys, when.tai.mjd, self._log(records))

    def _storeUpdateRecords(self, records, chunk, *, store_chunk=False, connection=None):
        """Store update records in replica chunk ``chunk`` (as ApdbSql's method of that name)."""
        if not self.native.settings.enable_replica:
            raise TypeError("APDB is not configured for replication")
        log = UpdateLog(chunk.id, chunk.last_update_time.tai.mjd,
                        lambda _: [(r.update_time_ns, r.update_order, r.to_json()) for r in records])
        self.native.store_update_records(log)

    # -- parts --------------------------------------------------------------------------------
    @property
    def schema(self):
        return self._schema

    @property
    def metadata(self):
        return self._metadata

    @property
    def admin(self):
        return QservAdmin(self.native)

    # -- helpers ------------------------------------------------------------------------------
    def _frame(self, rows, table):
        return to_frame(rows, self._schema.tableSchemas[table])

    def _log(self, records):
        """An UpdateLog of ``records(rows, update_time_ns)`` (numbered in order), or None
        without replication."""
        if not self.native.settings.enable_replica:
            return None
        now = self._current_time()
        chunk = ReplicaChunk.make_replica_chunk(now, self.native.settings.replica_chunk_seconds)
        stamp = int(now.unix_tai * 1e9)

        def numbered(rows):
            made = records(rows, stamp)
            return [(stamp, order, replace(r, update_order=order).to_json()) for order, r in enumerate(made)]
        return UpdateLog(chunk.id, now.tai.mjd, numbered)

    def _check_versions(self):
        for key, current in ((SCHEMA_VERSION_KEY, self._schema.schemaVersion()), (CODE_VERSION_KEY, CODE_VERSION),
                             (REPLICA_VERSION_KEY, REPLICA_CODE_VERSION)):
            stored = self.native.get_metadata(key)
            if stored is not None and not current.checkCompatibility(VersionTuple.fromString(stored)):
                raise IncompatibleVersionError(f"{key}: version {current} is not compatible with the "
                                               f"database's version {stored}")


def _ids(object_ids):
    return None if object_ids is None else [int(i) for i in object_ids]


def _region(region):
    return None if region is None else to_region(region)


def _databases(engine):
    from sqlalchemy import select

    from qserv.meta.models import Database

    with engine.store.session() as session:
        return [(name,) for name in session.scalars(select(Database.name))]
