"""The tables of an EFD database on the core (pure: TableSpecs, no I/O).

- ``efd_topics`` (replicated): topic name -> table name.
- one ``time`` table per topic: ``time_mjd_tai`` (the partition column, buckets of
  ``BUCKET_DAYS``), optional ``salIndex``, then the topic's fields.
- ``exposures`` (replicated): day_obs, seq_num, exposure_id, obs_start_mjd_tai, obs_end_mjd_tai
  and the optional band, ra, dec.
- ``efd_tasks`` (replicated): one window per exposure and its state (pending, running,
  completed, failed), attempts and last error.
- ``exposure_efd`` and ``exposure_efd_unpivoted`` (replicated): the transform's output, columns
  from the configuration with their units, UCDs and descriptions.
"""

from qserv.meta.admin import TableSpec
from qserv.schema.columns import Column

TOPICS = "efd_topics"
EXPOSURES = "exposures"
TASKS = "efd_tasks"
PIVOTED = "exposure_efd"
UNPIVOTED = "exposure_efd_unpivoted"
OUTPUT_TABLES = (PIVOTED, UNPIVOTED)
TIME_COLUMN = "time_mjd_tai"
SAL_INDEX = "salIndex"
BUCKET_DAYS = 1 / 24  # one chunk per hour of telemetry
STATES = ("pending", "running", "completed", "failed")

KEY_COLUMNS = [Column("day_obs", "int", nullable=False, ucd="time.epoch", description="observing day, YYYYMMDD"),
               Column("seq_num", "int", nullable=False, ucd="meta.id", description="sequence number within day_obs"),
               Column("exposure_id", "long", nullable=False, ucd="meta.id;obs.image", description="exposure id")]


def topics_spec():
    return TableSpec(kind="replicated", description="EFD topics and the tables that hold them", columns=[
        Column("topic", "string", nullable=False, description="topic name, e.g. lsst.sal.MTMount.azimuth"),
        Column("table_name", "string", nullable=False, description="table of the topic in this database")])


def topic_spec(topic, fields, sal_index):
    """The time table of ``topic``: its fields (Columns) after time and the optional salIndex."""
    columns = [Column(TIME_COLUMN, "double", nullable=False, unit="d", ucd="time.epoch",
                      description="sample time, MJD (TAI)")]
    if sal_index:
        columns.append(Column(SAL_INDEX, "int", description="SAL index of the component"))
    columns += [f for f in fields if f.name not in (TIME_COLUMN, SAL_INDEX)]
    return TableSpec(kind="time", columns=columns, partition_column=TIME_COLUMN, bucket_days=BUCKET_DAYS,
                     description=f"EFD topic {topic}")


EXPOSURE_COLUMNS = [*KEY_COLUMNS,
                    Column("obs_start_mjd_tai", "double", nullable=False, unit="d", ucd="time.start",
                           description="start of the exposure, MJD (TAI)"),
                    Column("obs_end_mjd_tai", "double", nullable=False, unit="d", ucd="time.end",
                           description="end of the exposure, MJD (TAI)"),
                    Column("band", "string", ucd="instr.bandpass", description="filter band"),
                    Column("ra", "double", unit="deg", ucd="pos.eq.ra", description="pointing right ascension"),
                    Column("dec", "double", unit="deg", ucd="pos.eq.dec", description="pointing declination")]


def exposures_spec():
    return TableSpec(kind="replicated", columns=EXPOSURE_COLUMNS, description="exposures and their time windows")


TASK_COLUMNS = [KEY_COLUMNS[2],
                Column("window_start_mjd_tai", "double", nullable=False, unit="d", description="window start"),
                Column("window_end_mjd_tai", "double", nullable=False, unit="d", description="window end"),
                Column("state", "string", nullable=False, description="pending, running, completed or failed"),
                Column("attempts", "int", nullable=False, description="transform attempts so far"),
                Column("error", "text", description="error of the last failed attempt"),
                Column("updated_mjd_tai", "double", nullable=False, unit="d", description="last change")]


def tasks_spec():
    return TableSpec(kind="replicated", columns=TASK_COLUMNS, description="transform windows (one per exposure)")


def output_specs(config):
    """TableSpecs of the configured output tables (name -> spec)."""
    specs = {}
    pivoted = [Column(c.column, c.datatype, unit=c.unit, ucd=c.ucd, description=c.description)
               for c in config.outputs(PIVOTED)]
    if pivoted:
        specs[PIVOTED] = TableSpec(kind="replicated", columns=[*KEY_COLUMNS, *pivoted],
                                   description="EFD summaries per exposure (transformed EFD)")
    if config.outputs(UNPIVOTED):
        specs[UNPIVOTED] = TableSpec(kind="replicated", description="EFD summaries per exposure, one row per value",
                                     columns=[KEY_COLUMNS[2],
                                              Column("property", "string", nullable=False, description="entry name"),
                                              Column("field", "string", nullable=False, description="topic field"),
                                              Column("value", "double", description="summary value")])
    return specs
