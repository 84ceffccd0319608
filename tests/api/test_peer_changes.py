"""Job changes made by another serving process (``peer_poll_s``, as ``qserv serve --processes N``
sets): made here through the central state only, without telling this process's runner or waiters,
they still cancel the running query and end a WAIT."""

import threading
import time

import pytest

from qserv.api.app import create_app
from tests.api.test_tap_async import SLOW, _create, _job, _phase

POLL_S = 0.2


@pytest.fixture(scope="module")
def peer_app(catalog_home):
    app = create_app({"home": catalog_home, "cleanup_interval_s": None, "resume_jobs": [], "peer_poll_s": POLL_S})
    yield app
    app.extensions["qserv"].close()


def _abort_elsewhere(app, path):
    """ABORT as another process does: the phase in the central state, nothing else."""
    app.extensions["qserv"].engine.tap_jobs.abort(path.rsplit("/", 1)[1], "anonymous")


def test_a_job_aborted_by_another_process_stops_running(peer_app):
    client = peer_app.test_client()
    path = _create(client, QUERY=SLOW, PHASE="RUN")
    deadline = time.monotonic() + 20
    while _phase(_job(client, path)) != "EXECUTING" and time.monotonic() < deadline:
        time.sleep(0.05)
    _abort_elsewhere(peer_app, path)
    aborted_at = time.monotonic()
    engine = peer_app.extensions["qserv"].engine
    statuses = []
    while time.monotonic() - aborted_at < 20:
        statuses = [q.status for q in engine.recent_queries(limit=20) if q.text == SLOW]
        if statuses and statuses[0] == "cancelled":
            break
        time.sleep(0.1)
    assert statuses[:1] == ["cancelled"]
    assert _phase(_job(client, path)) == "ABORTED"


def test_wait_ends_when_another_process_changes_the_job(peer_app):
    client = peer_app.test_client()
    path = _create(client, QUERY="SELECT COUNT(*) FROM sky.Object")
    answered = {}

    def wait():
        started = time.monotonic()
        answered["phase"] = _phase(_job(client, path, wait=30))
        answered["after_s"] = time.monotonic() - started

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.5)
    _abort_elsewhere(peer_app, path)
    waiter.join(timeout=40)
    assert answered["phase"] == "ABORTED" and answered["after_s"] < 10
