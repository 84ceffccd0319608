"""The transform's output tables: ``exposure_efd`` (one row per exposure, one column per
configured entry and field) and ``exposure_efd_unpivoted`` (exposure_id, property, field, value),
created from the configuration on first use, rewritten per window with ``Engine.replace_rows``."""

import numpy as np
import pyarrow as pa

from qserv.errors import UserError
from qserv.schema.types import arrow_type

from qserv.payloads.efd import tables as t
from qserv.payloads.efd.transform import compute


class Output:
    def __init__(self, efd, config):
        self.efd, self.config = efd, config
        self.specs = t.output_specs(config)
        catalog = efd.catalog()
        for name, spec in self.specs.items():
            if name not in catalog:
                efd.engine.create_table(efd.qualified(name), spec)
            elif [c.name for c in catalog[name]] != [c.name for c in spec.columns]:
                raise UserError(f"table {efd.database}.{name} has columns {', '.join(c.name for c in catalog[name])}; "
                                f"this configuration writes {', '.join(c.name for c in spec.columns)} (a new "
                                "configuration needs a new database, or the same columns)")
        topics = efd.topics()
        self.topic_tables = {e.topic: efd.qualified(topics[e.topic]) for e in config.entries}

    def write(self, windows):
        """Compute and store the rows of ``windows`` (rows of the exposures table)."""
        values = compute(self.efd.engine, self.topic_tables, self.config.entries, windows)
        ids = windows["exposure_id"].to_pylist()
        if t.PIVOTED in self.specs:
            self.efd.engine.replace_rows(self.efd.qualified(t.PIVOTED), "exposure_id",
                                         self._pivoted(windows, ids, values))
        if t.UNPIVOTED in self.specs:
            self.efd.engine.replace_rows(self.efd.qualified(t.UNPIVOTED), "exposure_id",
                                         self._unpivoted(ids, values))

    def _pivoted(self, windows, ids, values):
        spec = self.specs[t.PIVOTED]
        columns = {name: windows[name] for name in ("day_obs", "seq_num", "exposure_id")}
        for out in self.config.outputs(t.PIVOTED):
            column = next(c for c in spec.columns if c.name == out.column)
            cells = [values[eid][(out.entry.name, out.field)] for eid in ids]
            if out.datatype in ("int", "long", "short"):
                cells = [None if v is None else int(np.rint(v)) for v in cells]
            columns[out.column] = pa.array(cells, pa.float64() if out.datatype in ("double", "float")
                                           else None).cast(arrow_type(column))
        return pa.table(columns)

    def _unpivoted(self, ids, values):
        rows = {"exposure_id": [], "property": [], "field": [], "value": []}
        for eid in ids:
            for out in self.config.outputs(t.UNPIVOTED):
                value = values[eid][(out.entry.name, out.field)]
                rows["exposure_id"].append(eid)
                rows["property"].append(out.entry.name)
                rows["field"].append(out.field)
                rows["value"].append(None if value is None else float(value))
        return pa.table({"exposure_id": pa.array(rows["exposure_id"], pa.int64()),
                         "property": pa.array(rows["property"], pa.string()),
                         "field": pa.array(rows["field"], pa.string()),
                         "value": pa.array(rows["value"], pa.float64())})
