"""ApdbQservReplica: lsst.dax.apdb's ``ApdbReplica`` (replica chunks for the Prompt Products
Database) over the native APDB."""

import uuid

import astropy.time
from felis.datamodel import DataType
from lsst.dax.apdb import ApdbReplica, ApdbTables, ApdbUpdateRecord, ReplicaChunk

from qserv.payloads.apdb.rubin.frames import QservTableData
from qserv.payloads.apdb.tables import REPLICA_CHUNK_COLUMN

CHUNKED_TABLES = (ApdbTables.DiaObject, ApdbTables.DiaSource, ApdbTables.DiaForcedSource)


class ApdbQservReplica(ApdbReplica):
    def __init__(self, apdb):
        self.apdb, self.native = apdb, apdb.native

    @classmethod
    def apdbReplicaImplementationVersion(cls):
        from qserv.payloads.apdb.rubin.apdb_qserv import REPLICA_CODE_VERSION

        return REPLICA_CODE_VERSION

    def schemaVersion(self):
        return self.apdb.schema.schemaVersion()

    def getReplicaChunks(self):
        if not self.native.settings.enable_replica:
            return None
        rows = self.native.replica_chunks()
        return [ReplicaChunk(id=chunk, last_update_time=astropy.time.Time(mjd, format="mjd", scale="tai"),
                             unique_id=uuid.UUID(unique))
                for chunk, mjd, unique in zip(*(rows[c].to_pylist() for c in rows.column_names))]

    def deleteReplicaChunks(self, chunks):
        self._require_replica()
        self.native.delete_replica_chunks(chunks)

    def getTableDataChunks(self, table, chunks):
        self._require_replica()
        if table not in CHUNKED_TABLES:
            raise ValueError(f"Table {table} does not support replica chunks.")
        rows = self.native.table_chunk_rows(table.value, list(chunks))
        column_defs = [(c.name, c.datatype) for c in self.apdb.schema.tableSchemas[table].columns]
        return QservTableData(rows, [*column_defs, (REPLICA_CHUNK_COLUMN, DataType.long)])

    def getUpdateRecordChunks(self, chunks):
        self._require_replica()
        rows = self.native.update_record_rows(list(chunks)).to_pylist()
        return [ApdbUpdateRecord.from_json(r["update_time_ns"], r["update_order"], r["update_payload"])
                for r in rows]

    def _require_replica(self):
        if not self.native.settings.enable_replica:
            raise ValueError("APDB is not configured for replication")
