"""Re-running entries (``qserv.replay.sources.Logged``) on a target and classifying each.

Targets: ``EngineTarget`` (an open Engine: the instance itself, or another home) and ``TapTarget``
(a running ``qserv serve``: its TAP sync endpoint, ADQL only, Parquet answers; ``as_of`` goes as
the TAP parameter AS_OF). ``as_of="logged"`` re-runs each query as of the visibility it logged
(the same rows, when replayed on the instance that logged it); ``"current"`` reads the rows of now
(a query pinned to a named snapshot stays pinned to it).
"""

from concurrent.futures import ThreadPoolExecutor
import io
import time

import pyarrow.parquet as pq
import requests

from qserv.errors import QservError
from qserv.fingerprint import checksum, columns_of
from qserv.replay.compare import Outcome, classify, with_rows
from qserv.replay.sources import REPLAY_USER

HTTP_TIMEOUT_S = 600


def outcome_of(answer, duration_s):
    return Outcome("ok", duration_s, rows=answer.num_rows, result_columns=columns_of(answer),
                   checksum=checksum(answer), answer=answer)


class EngineTarget:
    def __init__(self, engine):
        self.engine = engine

    def run(self, entry, as_of):
        started = time.monotonic()
        try:
            answer = self.engine.query(entry.text, lang=entry.lang, db=entry.database, user=REPLAY_USER,
                                       as_of=as_of)
        except QservError as error:
            return Outcome("error", time.monotonic() - started, error=str(error))
        return outcome_of(answer, time.monotonic() - started)


class TapTarget:
    def __init__(self, url, token=None):
        self.url = url.rstrip("/") + "/tap/sync"
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def run(self, entry, as_of):
        started = time.monotonic()
        if entry.lang != "adql":
            return Outcome("error", 0.0, error="TAP runs ADQL only (this query is Qserv SQL)")
        data = {"REQUEST": "doQuery", "LANG": "ADQL", "QUERY": entry.text, "RESPONSEFORMAT": "parquet"}
        if isinstance(as_of, str):
            data["AS_OF"] = as_of
        elif as_of is not None:
            return Outcome("error", 0.0, error="a logged visibility cannot be sent through TAP (use a snapshot name)")
        try:
            response = self.session.post(self.url, data=data, timeout=HTTP_TIMEOUT_S)
        except requests.RequestException as error:
            return Outcome("error", time.monotonic() - started, error=f"cannot reach {self.url}: {error}")
        duration = time.monotonic() - started
        if response.status_code != 200:
            return Outcome("error", duration, error=f"HTTP {response.status_code}: {response.text[:300]}")
        return outcome_of(pq.read_table(io.BytesIO(response.content)), duration)


def _as_of(entry, mode):
    if mode == "logged":
        return entry.visibility if entry.visibility is not None else entry.as_of
    return entry.as_of  # current: the rows of now, unless the query was pinned to a named snapshot


def replay(entries, target, as_of="current", concurrency=1, budget_s=None, slower_factor=2.0,
           baseline=None, on_done=None):
    """Verdicts of re-running ``entries`` on ``target``, in entry order. Queries not started
    within ``budget_s`` seconds are ``not run``. ``baseline`` (an Engine holding the log's
    instance) re-runs a differing query as of its logged visibility to show the differing rows.
    ``on_done()`` is called after each query (a progress bar)."""
    deadline = None if budget_s is None else time.monotonic() + budget_s

    def one(entry):
        if deadline is not None and time.monotonic() > deadline:
            verdict = classify(entry, None)
        else:
            outcome = target.run(entry, _as_of(entry, as_of))
            verdict = classify(entry, outcome, slower_factor)
            if verdict.kind == "different" and entry.expected is None and baseline is not None:
                _logged_rows(verdict, baseline)
            outcome.answer = None  # the verdict keeps the differing rows only
        if on_done:
            on_done()
        return verdict

    if concurrency <= 1:
        return [one(entry) for entry in entries]
    with ThreadPoolExecutor(concurrency, thread_name_prefix="qserv-replay") as pool:
        return list(pool.map(one, entries))


def _logged_rows(verdict, baseline):
    """Differing rows of a logged query: its answer again as of the visibility it logged,
    when that reproduces the logged checksum."""
    entry = verdict.entry
    if entry.visibility is None or verdict.outcome.answer is None:
        return
    try:
        old = baseline.query(entry.text, lang=entry.lang, db=entry.database, user=REPLAY_USER,
                             as_of=entry.visibility)
    except QservError as error:
        verdict.detail += f" (the logged answer could not be re-run: {error})"
        return
    if checksum(old) != entry.checksum:
        verdict.detail += " (the logged rows are no longer readable: their rows were purged)"
        return
    with_rows(verdict, old, verdict.outcome.answer)
