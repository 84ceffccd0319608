"""The queries a replay re-runs, as ``Logged`` entries.

- ``from_log(engine)``: an instance's own query log (finished queries, oldest first; the replay's
  own queries, user ``REPLAY_USER``, left out).
- ``export_log(engine, file)`` / ``from_jsonl(path)``: the same as JSON lines (``qserv history
  --export FILE``), one object per query with the fields of ``Logged``.
- ``from_corpus(directory)``: ``.sql`` files (one query each, any sub-directory, e.g. Qserv's
  integration-test layout ``<case>/queries/NNNN_name.sql``); the expected answer of ``X.sql`` is
  ``X.parquet`` or ``X.csv`` beside it when present, else it comes from a reference database
  (``qserv.replay.reference``). A first line ``-- lang: qserv`` / ``-- db: NAME`` sets the
  query's language (default: qserv, Qserv's SQL) and default database.
"""

from dataclasses import dataclass, field, fields
import json
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from qserv.errors import InputError, UserError
from qserv.fingerprint import checksum, columns_of

REPLAY_USER = "qserv-replay"
EXPORT_LIMIT = 10_000_000  # queries read from a log at most


@dataclass
class Logged:
    """A query and what its first run gave (``status`` ok or error, with ``error``; an ok query's
    rows, ``result_columns`` and ``checksum``). ``expected`` holds the rows when they are known
    (a corpus), not exported."""

    name: str  # query log id, or the corpus file's path
    text: str
    lang: str = "adql"
    database: str | None = None
    user: str | None = None
    status: str = "ok"
    error: str | None = None
    rows: int | None = None
    result_columns: list | None = None
    checksum: str | None = None
    duration_s: float | None = None
    visibility: dict | None = None
    as_of: str | None = None
    expected: object = field(default=None, repr=False, compare=False)  # pyarrow.Table


_EXPORTED = [f.name for f in fields(Logged) if f.name != "expected"]


def _from_record(record):
    return Logged(name=str(record.id), text=record.text, lang=record.lang, database=record.database,
                  user=record.user, status=record.status, error=record.error, rows=record.rows,
                  result_columns=record.result_columns, checksum=record.checksum,
                  duration_s=record.duration_s, visibility=record.visibility, as_of=record.as_of)


def from_log(engine, limit=EXPORT_LIMIT):
    """The finished queries (ok or error) of an instance's log, oldest first, without the replay's."""
    records = engine.recent_queries(limit=limit)
    return [_from_record(r) for r in reversed(records) if r.status in ("ok", "error") and r.user != REPLAY_USER]


def export_log(engine, file, limit=EXPORT_LIMIT):
    """Write the log (as ``from_log``) to ``file`` as JSON lines; return the number of queries."""
    entries = from_log(engine, limit)
    with open(file, "w", encoding="utf-8") as out:
        for entry in entries:
            out.write(json.dumps({name: getattr(entry, name) for name in _EXPORTED}) + "\n")
    return len(entries)


def from_jsonl(path):
    """The entries of an exported log."""
    entries = []
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                values = json.loads(line)
                entries.append(Logged(**{name: values[name] for name in _EXPORTED if name in values}))
            except (ValueError, TypeError) as error:
                raise InputError(f"{path}:{number}: not a query log entry ({error})") from None
    return entries


def _headers(text):
    """(lang, db) set by the leading ``-- lang: X`` / ``-- db: Y`` comment lines of a query."""
    found = {"lang": "qserv", "db": None}
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("--"):
            break
        name, _, value = line[2:].partition(":")
        if name.strip().lower() in found and value.strip():
            found[name.strip().lower()] = value.strip()
    if found["lang"] not in ("adql", "qserv"):
        raise UserError(f"unknown query language {found['lang']!r} (adql or qserv)")
    return found["lang"], found["db"]


def _expected(path):
    for suffix, read in ((".parquet", pq.read_table), (".csv", pacsv.read_csv)):
        candidate = path.with_suffix(suffix)
        if candidate.exists():
            return read(candidate)
    return None


def from_corpus(directory, database=None):
    """The ``.sql`` files under ``directory``, in path order (``database``: the default database
    of those that name none)."""
    directory = Path(directory)
    paths = sorted(directory.rglob("*.sql"))
    if not paths:
        raise UserError(f"no .sql files under {directory}")
    entries = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        lang, db = _headers(text)
        entry = Logged(name=str(path.relative_to(directory)), text=text.strip().rstrip(";"), lang=lang,
                       database=db or database, user=None)
        expected = _expected(path)
        if expected is not None:
            with_expected(entry, expected)
        entries.append(entry)
    return entries


def with_expected(entry, table):
    """Set ``entry``'s expected answer (and its fingerprint) to the pyarrow Table ``table``."""
    entry.status, entry.error, entry.expected = "ok", None, table
    entry.rows, entry.result_columns, entry.checksum = table.num_rows, columns_of(table), checksum(table)
