"""Alert packets of a visit from what ``associate_visit`` stored in an APDB of the core: the
visit's DiaSources (current versions), their DiaObjects (latest versions) and the objects'
DiaSource / DiaForcedSource history as the APDB reads it at the visit time (its
``read_sources_months`` / ``read_forced_sources_months`` window)."""

from astropy.time import Time
import numpy as np
import pyarrow as pa

from qserv.errors import NotFoundError

from qserv.payloads.alerts.packets import alert_records
from qserv.payloads.alerts.wire import latest_schema
from qserv.payloads.apdb import reads
from qserv.payloads.apdb.tables import MOVED_COLUMN


def visit_sources(apdb, visit, detector=None):
    """The current DiaSources of ``visit`` (one detector, or all)."""
    table = apdb.tables["DiaSource"]
    where = [f'"visit" = {int(visit)}'] + ([f'"detector" = {int(detector)}'] if detector is not None else [])
    rows = apdb.engine.query(reads.select(apdb.database, table.name, table.column_names, where, [MOVED_COLUMN]),
                             lang="adql")
    return reads.current_rows(rows, table.primary_key, table.column_names)


def latest_objects(apdb, object_ids):
    """The latest versions of the DiaObjects ``object_ids``."""
    table = apdb.tables["DiaObject"]
    parts = [apdb.engine.query(reads.select(apdb.database, table.name, table.column_names, [ids]), lang="adql")
             for ids in reads.ids_in("diaObjectId", object_ids)]
    if not parts:
        return None
    return reads.latest_objects(pa.concat_tables(parts), table.column_names)


def visit_alerts(apdb, visit, detector=None, visit_time=None, schema=None, ss_sources=None, cutouts=None):
    """The alert records of one visit's DiaSources and the schema they follow. ``visit_time`` (an
    astropy Time) ends the history window; default: the earliest midpoint of the visit's sources."""
    schema = schema or latest_schema()
    sources = visit_sources(apdb, visit, detector)
    if sources.num_rows == 0:
        raise NotFoundError(f"no DiaSources of visit {visit}" + (f" detector {detector}" if detector is not None
                                                                  else "") + f" in APDB {apdb.database}")
    if visit_time is None:
        visit_time = Time(float(np.min(sources.column("midpointMjdTai").to_numpy())), format="mjd", scale="tai")
    object_ids = set(sources.column("diaObjectId").drop_null().to_pylist())
    history = apdb.get_diasources(None, object_ids, visit_time) if object_ids else None
    forced = apdb.get_diaforcedsources(None, object_ids, visit_time) if object_ids else None
    records = alert_records(schema.definition, sources, latest_objects(apdb, object_ids), history, forced,
                            ss_sources, cutouts)
    return records, schema
