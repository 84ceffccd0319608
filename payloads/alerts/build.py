"""Alert packets of a visit from what ``associate_visit`` stored in an APDB of the core: the
visit's DiaSources (current versions), their DiaObjects (latest versions) and the objects'
DiaSource / DiaForcedSource history as the APDB reads it at the visit time (its
``read_sources_months`` / ``read_forced_sources_months`` window)."""

from astropy.time import Time
import numpy as np
import pyarrow as pa

from qserv.errors import NotFoundError

from qserv.payloads.alerts.columnar import alert_packets
from qserv.payloads.alerts.packets import alert_records, source_columns
from qserv.payloads.alerts.wire import latest_schema
from qserv.payloads.apdb import reads
from qserv.payloads.apdb.tables import MOVED_COLUMN
from qserv.payloads.apdb.visit import field_circle


def visit_sources(apdb, visit, detector=None):
    """The current DiaSources of ``visit`` (one detector, or all)."""
    table = apdb.tables["DiaSource"]
    where = [f'"visit" = {int(visit)}'] + ([f'"detector" = {int(detector)}'] if detector is not None else [])
    rows = apdb.engine.query(reads.select(apdb.database, table.name, table.column_names, where, [MOVED_COLUMN]),
                             lang="adql")
    return reads.current_rows(rows, table.primary_key, table.column_names)


def latest_objects(apdb, object_ids):
    """The latest versions of the DiaObjects ``object_ids`` (not empty)."""
    table = apdb.tables["DiaObject"]
    parts = [apdb.engine.query(reads.select(apdb.database, table.name, table.column_names, [ids]), lang="adql")
             for ids in reads.ids_in("diaObjectId", object_ids)]
    return reads.latest_objects(pa.concat_tables(parts), table.column_names)


def visit_alerts(apdb, visit, detector=None, visit_time=None, schema=None, ss_sources=None, cutouts=None):
    """The alert records of one visit's DiaSources and the schema they follow. ``visit_time`` (an
    astropy Time) ends the history window; default: the earliest midpoint of the visit's sources.

    The DiaObjects and their history are read by region (the sources' field widened by the APDB's
    ``max_move_arcsec``, as associate_visit reads) and kept for the sources' objects; an object
    whose latest version lies outside that field is read by id."""
    schema = schema or latest_schema()
    tables = visit_tables(apdb, visit, detector, visit_time)
    return alert_records(schema.definition, *tables, ss_sources, cutouts), schema


def visit_packets(apdb, visit, detector=None, visit_time=None, schema=None, ss_sources=None, cutouts=None):
    """(searchable columns, wire-format packets, schema) of one visit's alerts: the packets of
    ``visit_alerts``' records, encoded column by column (``columnar``) without building the
    records; the columns as ``packets.searchable_rows`` (for ``AlertArchive.store_columns``)."""
    schema = schema or latest_schema()
    tables = visit_tables(apdb, visit, detector, visit_time)
    return source_columns(tables[0], ss_sources), alert_packets(schema, *tables, ss_sources, cutouts), schema


def visit_tables(apdb, visit, detector=None, visit_time=None):
    """(sources, objects, history, forced history) of one visit's alerts, as Arrow tables."""
    sources = visit_sources(apdb, visit, detector)
    if sources.num_rows == 0:
        raise NotFoundError(f"no DiaSources of visit {visit}" + (f" detector {detector}" if detector is not None
                                                                  else "") + f" in APDB {apdb.database}")
    if visit_time is None:
        visit_time = Time(float(np.min(sources.column("midpointMjdTai").to_numpy())), format="mjd", scale="tai")
    object_ids = np.unique(sources.column("diaObjectId").drop_null().to_numpy())
    field = field_circle(sources.column("ra").to_numpy(), sources.column("dec").to_numpy(),
                         apdb.settings.max_move_arcsec)
    objects = _of_objects(apdb.get_diaobjects(field), object_ids)
    missing = np.setdiff1d(object_ids, objects.column("diaObjectId").to_numpy())
    if len(missing):
        objects = pa.concat_tables([objects, latest_objects(apdb, missing.tolist())])
    history = _of_objects(apdb.get_diasources(field, None, visit_time), object_ids)
    forced = _of_objects(apdb.get_diaforcedsources(field, None, visit_time), object_ids)
    return sources, objects, history, forced


def _of_objects(rows, object_ids):
    """The rows of ``object_ids`` (None stays None: that history is not read)."""
    if rows is None:
        return None
    owners = rows.column("diaObjectId").to_numpy(zero_copy_only=False)
    return rows.filter(pa.array(np.isin(owners, object_ids)))
