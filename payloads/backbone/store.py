"""Reads and writes of the registry's tables through the core (queries and ingest transactions).

Values written into query text are only names validated by ``model.check_name``, dataset ids
(UUID text, as ``model.dataset_id``/``check_uuid`` make them), lookup keys (hex digests) and
numbers; more than ``LITERAL_IDS`` ids go as an upload (Arrow data, TAP_UPLOAD) instead."""

import re

import pyarrow as pa

from qserv.errors import NotFoundError
from qserv.schema.types import arrow_type

from qserv.payloads.backbone.tables import table_specs

SPECS = table_specs()
UPLOAD_ROWS = 200_000  # ids per upload (a query each)
LITERAL_IDS = 1000  # up to this many dataset ids go as an IN list, so hash tables keyed on them are pruned
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def literal(name):
    """A validated name or id as an ADQL string literal (it holds no quote: see check_name)."""
    return "'" + name + "'"


def name_list(names):
    return ", ".join(literal(n) for n in names)


class Store:
    def __init__(self, engine, database):
        self.engine, self.database = engine, database

    def exists(self, table, database=None):
        try:
            self.engine.table_layout(f"{database or self.database}.{table}")
            return True
        except NotFoundError:
            return False

    def rows(self, table, where=None, columns="*"):
        """The rows of ``table`` (optionally restricted) as a list of dicts."""
        text = f"SELECT {columns} FROM {self.database}.{table}"
        if where:
            text += f" WHERE {where}"
        return self.engine.query(text).to_pylist()

    def rows_of_ids(self, table, column, ids, columns="t.*", where=None, database=None):
        """Rows of ``table`` whose ``column`` is one of ``ids`` (``where`` names columns of
        ``table`` unqualified). A few dataset ids (UUID text) go as an IN list, so the core reads
        only their buckets of a table hash-partitioned on ``column``; else an upload join."""
        out = []
        ids = list(dict.fromkeys(ids))
        if not ids:
            return out
        if len(ids) <= LITERAL_IDS and all(isinstance(i, str) and _UUID.match(i) for i in ids):
            text = (f"SELECT {columns} FROM {database or self.database}.{table} AS t "
                    f"WHERE t.{column} IN ({name_list(ids)})")
            return self.engine.query(text + (f" AND ({where})" if where else "")).to_pylist()
        for start in range(0, len(ids), UPLOAD_ROWS):
            part = pa.table({"id": pa.array(ids[start:start + UPLOAD_ROWS], pa.string())})
            text = (f"SELECT {columns} FROM {database or self.database}.{table} AS t "
                    f"JOIN TAP_UPLOAD.ids AS u ON t.{column} = u.id")
            if where:
                text += f" WHERE {where}"
            out.extend(self.engine.query(text, uploads={"ids": part}).to_pylist())
        return out

    def write(self, build, database=None, specs=None):
        """One transaction: ``build(version)`` returns table -> rows (lists of dicts), loaded
        together and committed (or all aborted). Returns the version (transaction id)."""
        specs = specs or SPECS
        transactions = self.engine.transactions
        version = transactions.begin(database or self.database)
        try:
            for i, (table, rows) in enumerate(build(version).items()):
                if rows:
                    transactions.contribute(version, table, arrow_rows(specs[table], rows), key=f"b{i}")
            transactions.commit(version)
        except BaseException:
            transactions.abort(version)
            raise
        return version


def arrow_rows(spec, rows):
    """Rows (dicts) as an Arrow table of exactly ``spec``'s columns."""
    schema = pa.schema([pa.field(c.name, arrow_type(c)) for c in spec.columns])
    return pa.Table.from_pylist([{c.name: row.get(c.name) for c in spec.columns} for row in rows],
                                schema=schema)
