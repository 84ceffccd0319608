"""``Efd``: the transformed EFD in one database of the core (see the package docstring).

Writes go through the core: telemetry and exposures by ingest transactions (all files of one call
in one transaction: all or nothing), the task table and the outputs by ``Engine.replace_rows``
(rows keyed by exposure_id replaced in one transaction, so a re-run gives identical rows)."""

import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from qserv.errors import UserError
from qserv.meta.catalog import get_database, table_columns

from qserv.payloads.efd import inputs, names, tables as t
from qserv.payloads.efd.config import check_topics, load_config
from qserv.payloads.efd.tasks import Tasks


class Efd:
    def __init__(self, engine, database):
        self.engine, self.database = engine, database
        self.tasks = Tasks(self)

    def qualified(self, table):
        return f"{self.database}.{table}"

    @classmethod
    def create(cls, engine, database):
        engine.create_database(database)
        efd = cls(engine, database)
        engine.create_table(efd.qualified(t.TOPICS), t.topics_spec())
        engine.create_table(efd.qualified(t.EXPOSURES), t.exposures_spec())
        engine.create_table(efd.qualified(t.TASKS), t.tasks_spec())
        return efd

    @classmethod
    def open(cls, engine, database):
        if t.TOPICS not in cls(engine, database).catalog():
            raise UserError(f"database {database!r} is not an EFD (no table {t.TOPICS}; create it with "
                            "qserv efd create)")
        return cls(engine, database)

    def catalog(self):
        """table name -> [Column] of the database's tables."""
        with self.engine.store.session() as session:
            return {table.name: table_columns(table) for table in get_database(session, self.database).tables}

    # -- topics -------------------------------------------------------------------------------
    def topics(self):
        """topic name -> table name."""
        rows = self.engine.read_table(self.qualified(t.TOPICS))
        return dict(zip(rows["topic"].to_pylist(), rows["table_name"].to_pylist()))

    def topic_columns(self):
        """topic name -> {column: datatype}."""
        catalog = self.catalog()
        return {topic: {c.name: c.datatype for c in catalog[table]} for topic, table in self.topics().items()}

    def create_topic(self, topic, fields, sal_index=False):
        """Create the table of ``topic`` (``fields``: qserv Columns with units and descriptions)."""
        names.check_topic(topic)
        known = self.topics()
        if topic in known:
            raise UserError(f"topic {topic!r} exists already (table {known[topic]})")
        table = names.table_name(topic, {name.lower() for name in self.catalog()})
        self.engine.create_table(self.qualified(table), t.topic_spec(topic, fields, sal_index))
        self.engine.ingest(self.qualified(t.TOPICS), [pa.table({"topic": [topic], "table_name": [table]})])
        return table

    def ingest(self, topic, sources):
        """Load telemetry files (or pyarrow.Tables) into ``topic`` in one transaction, creating the
        topic from the first file when new; windows the samples fall in are re-opened. Returns the
        number of rows."""
        parts = inputs.telemetry(sources)
        table = self.topics().get(names.check_topic(topic))
        if table is None:
            where, first = parts[0]
            fields = inputs.inferred_fields(first, where)
            columns = t.topic_spec(topic, fields, t.SAL_INDEX in first.column_names).columns
        else:
            columns = self.catalog()[table]
        rows = [inputs.conform(part, columns, where) for where, part in parts]
        if table is None:
            table = self.create_topic(topic, columns, t.SAL_INDEX in parts[0][1].column_names)
        self.engine.ingest(self.qualified(table), rows)
        times = np.concatenate([r[t.TIME_COLUMN].to_numpy() for r in rows])
        if len(times):
            self.tasks.reopen(float(times.min()), float(times.max()))
        return len(times)

    # -- exposures ----------------------------------------------------------------------------
    def exposures(self):
        return self.engine.read_table(self.qualified(t.EXPOSURES))

    def load_exposures(self, sources):
        """Add (or replace, by exposure_id) exposures; each gets a pending task."""
        rows = inputs.exposures(sources)
        kept = self.exposures()
        kept = kept.filter(pc.invert(pc.is_in(kept["exposure_id"], rows["exposure_id"])))
        inputs.check_overlaps(pa.concat_tables([kept.select(rows.column_names), rows]))
        self.engine.replace_rows(self.qualified(t.EXPOSURES), "exposure_id", rows)
        self.tasks.add(rows)
        return rows.num_rows

    # -- transform ----------------------------------------------------------------------------
    def load_config(self, path):
        return check_topics(load_config(path), self.topic_columns())

    def transform(self, config, since=None, until=None, batch=250, max_attempts=3):
        """Compute the due windows (pending, or failed fewer than ``max_attempts`` times and past
        their backoff, see ``tasks``) whose start is in [since, until] (MJD TAI); returns
        {state: windows}."""
        from qserv.payloads.efd.output import Output

        if isinstance(config, str) or hasattr(config, "read_text"):
            config = self.load_config(config)
        else:
            check_topics(config, self.topic_columns())
        output = Output(self, config)
        due = self.tasks.due(since, until, max_attempts)
        exposures = self.exposures()
        exposures = exposures.filter(pc.is_in(exposures["exposure_id"], due["exposure_id"]))
        exposures = exposures.sort_by("obs_start_mjd_tai")
        counts = {"completed": 0, "failed": 0}
        for start in range(0, exposures.num_rows, batch):
            windows = exposures.slice(start, batch)
            self.tasks.mark(windows, "running")
            try:
                output.write(windows)
            except Exception as error:  # recorded in the task table; the next run retries
                self.tasks.mark(windows, "failed", f"{type(error).__name__}: {error}")
                counts["failed"] += windows.num_rows
                continue
            self.tasks.mark(windows, "completed")
            counts["completed"] += windows.num_rows
        return counts


def now_mjd():
    return time.time() / 86_400.0 + 40_587.0 + 37.0 / 86_400.0  # Unix epoch as MJD, TAI = UTC + 37 s
