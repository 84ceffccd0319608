"""Writing the query log off the query's path: ``QueryLogWriter`` queues the start and the end of
each query and a background thread writes them in batches, one central-state transaction per batch
(two SQLite write transactions per query cost several milliseconds and serialise concurrent
queries). The fingerprint of an answer (``answer=``, ``qserv.fingerprint.answer_fingerprint``) is
computed here too, before its batch is written: hashing every row of a large answer costs as
much as running the query on the workers, and the caller has its answer meanwhile. ``flush()``
waits until everything queued is written; readers of the log in the same process call it first,
and closing the engine does.
"""

from dataclasses import dataclass
import logging
import queue
import threading

from qserv.fingerprint import answer_fingerprint
from qserv.meta.query_log import finish_query, start_query


@dataclass
class LoggedQuery:
    """One query's entry: what ``started`` queued, and the id once written."""

    text: str
    lang: str
    database: str | None
    user: str | None
    id: int | None = None  # set when its start is written


class QueryLogWriter:
    def __init__(self, store):
        self._store = store
        self._queue = queue.Queue()
        self._thread = threading.Thread(target=self._write_forever, name="qserv-query-log", daemon=True)
        self._thread.start()

    def started(self, text, lang, database=None, user=None):
        entry = LoggedQuery(text, lang, database, user)
        self._queue.put(("start", entry, None, None))
        return entry

    def finished(self, entry, status, duration_s, rows=None, chunks=None, error=None, fingerprint=None,
                 answer=None):
        """Queue the end of a query; ``answer`` (a pyarrow.Table): its fingerprint is added to
        ``fingerprint`` by the writer thread."""
        self._queue.put(("finish", entry, dict(status=status, duration_s=duration_s, rows=rows, chunks=chunks,
                                               error=error, fingerprint=fingerprint), answer))

    def flush(self):
        done = threading.Event()
        self._queue.put(("flush", done, None, None))
        done.wait()

    def close(self):
        self.flush()
        self._queue.put(None)
        self._thread.join()

    def _write_forever(self):
        while True:
            items = [self._queue.get()]
            while True:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._write([item for item in items if item is not None and item[0] != "flush"])
            for item in items:
                if item is not None and item[0] == "flush":
                    item[1].set()
            if None in items:
                return

    def _write(self, items):
        if not items:
            return
        for _, _, values, answer in items:  # hashed outside the write transaction
            if answer is not None:
                values["fingerprint"] = {**(values["fingerprint"] or {}), **answer_fingerprint(answer)}
        try:
            with self._store.session() as session:
                for kind, entry, values, _ in items:
                    if kind == "start":
                        entry.id = start_query(session, entry.text, entry.lang, database=entry.database,
                                               user=entry.user)
                    elif entry.id is not None:
                        finish_query(session, entry.id, **values)
        except Exception as error:  # the log must never fail a query: a lost batch is lost history
            logging.getLogger("qserv").warning("could not write %d query log entries: %s", len(items), error)
