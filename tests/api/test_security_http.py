"""Attacks on the TAP service over HTTP (issue 14): WAIT that never ends or starves the server,
non-finite and out-of-range parameters, SSRF through UPLOAD URLs, anonymous callers sharing jobs
and history, and a central-state write per authenticated request. Each test fails on the service
as it was before the fix (by a wrong answer, or by not answering within a generous bound)."""

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import ipaddress
import re
import socket
import threading
import time
import xml.etree.ElementTree as ET
from datetime import timedelta

import pyarrow as pa
import pytest
import requests
from sqlalchemy import event

from qserv.api.tap.fetch import is_public
from qserv.api.tap.waits import JobWaits
from qserv.formats.votable import votable_bytes
from qserv.meta.models import Token, utc_now

UWS = "{http://www.ivoa.net/xml/UWS/v1.0}"
KEYS = [3, 1, 4, 1, 5, 9, 2, 6]
TABLE = votable_bytes(pa.table({"k": pa.array(KEYS, pa.int64())}), serialization="tabledata")
UPLOAD_QUERY = "SELECT k FROM TAP_UPLOAD.t ORDER BY k"


def within(seconds, call):
    """call()'s result, or a test failure if it does not return within ``seconds``."""
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.setdefault("value", call()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"no answer within {seconds} s"
    return outcome["value"]


def error_text(response):
    found = re.search(r'name="QUERY_STATUS" value="ERROR">(.*?)</INFO>', response.data.decode(), re.S)
    assert found, response.data
    return found.group(1)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def settings(app, monkeypatch):
    """The app's settings; changes are undone after the test."""
    values = app.extensions["qserv"].engine.settings

    def change(**changes):
        for name, value in changes.items():
            monkeypatch.setitem(values, name, value)
    return change


# -- a web server on loopback, the target of the SSRF tests -----------------------------------------

class Target:
    def __init__(self):
        self.hits = []
        self.dripping = threading.Event()
        self.stop = threading.Event()
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                target.hits.append(self.path)
                path, _, query = self.path.partition("?")
                if path == "/table.xml":
                    self._send(200, TABLE)
                elif path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", query.split("to=", 1)[1])
                    self.end_headers()
                elif path.startswith("/chain/"):
                    left = int(path.rsplit("/", 1)[1])
                    self.send_response(302)
                    self.send_header("Location", f"/chain/{left - 1}" if left else "/table.xml")
                    self.end_headers()
                elif path == "/big":
                    self._send(200, b" " * (2 << 20))
                elif path == "/drip":
                    self.send_response(200)
                    self.end_headers()
                    target.dripping.set()
                    for _ in range(100):  # 20 s of one byte every 0.2 s
                        if target.stop.wait(0.2):
                            break
                        self.wfile.write(b" ")
                        self.wfile.flush()
                else:
                    self._send(404, b"no such page")

            def _send(self, status, body):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path, host="127.0.0.1"):
        return f"http://{host}:{self.port}{path}"

    def close(self):
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def target():
    served = Target()
    yield served
    served.close()


def upload(client, url, **kwargs):
    return client.post("/tap/sync", data={"LANG": "ADQL", "FORMAT": "csv", "QUERY": UPLOAD_QUERY,
                                          "UPLOAD": f"t,{url}"}, **kwargs)


def fetched_keys(response):
    assert response.status_code == 200, response.data
    return [int(line) for line in response.data.decode().split()[1:]]


# -- WAIT ------------------------------------------------------------------------------------------

def _create(client, headers=None, **params):
    response = client.post("/tap/async", data={"LANG": "ADQL", "QUERY": "SELECT 1 AS one", **params},
                           headers=headers or {})
    assert response.status_code == 303, response.data
    return response.headers["Location"][len("http://localhost"):]


def _phase(response):
    assert response.status_code == 200, response.data
    return ET.fromstring(response.data).find(f"{UWS}phase").text


@pytest.mark.parametrize("wait", ["nan", "NaN", "inf", "-inf", "1e999", "soon", ""])
def test_a_wait_that_is_not_a_finite_number_is_refused(client, wait):
    path = _create(client)
    response = within(10, lambda: client.get(path, query_string={"WAIT": wait}))
    if wait == "":  # no WAIT at all
        assert _phase(response) == "PENDING"
    else:
        assert response.status_code == 400 and "WAIT" in error_text(response)


def test_wait_is_capped(client, settings):
    settings(tap_wait_max_s=1)
    path = _create(client)
    for wait in ("1e300", "-1"):  # UWS: a negative WAIT means as long as the service allows
        started = time.monotonic()
        assert _phase(within(20, lambda: client.get(path, query_string={"WAIT": wait}))) == "PENDING"
        assert 0.9 <= time.monotonic() - started < 15


def test_waits_beyond_the_slots_answer_at_once_and_waiters_wake_on_change(app, client, monkeypatch):
    monkeypatch.setattr(app.extensions["qserv"].runner, "waits", JobWaits(2))
    path = _create(client)
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(_phase(app.test_client().get(f"{path}?WAIT=30"))))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(3)
    assert answers == ["PENDING"]  # the third had no slot: answered at once, the two others wait
    started = time.monotonic()
    assert client.post(path + "/phase", data={"PHASE": "RUN"}).status_code == 303
    for thread in threads:
        thread.join(20)
    assert sorted(answers) == ["COMPLETED", "COMPLETED", "PENDING"]
    assert time.monotonic() - started < 15  # woken by the change, long before WAIT=30 ends


def test_blocking_waits_do_not_starve_the_server(tap_url):
    jobs = []
    for _ in range(20):
        created = requests.post(f"{tap_url}/async", data={"LANG": "ADQL", "QUERY": "SELECT 1 AS one"},
                                allow_redirects=False, timeout=10)
        assert created.status_code == 303
        jobs.append(created.headers["Location"])
    waiters = [threading.Thread(target=requests.get, args=(job,), kwargs={"params": {"WAIT": "30"}, "timeout": 60},
                                daemon=True) for job in jobs]
    for waiter in waiters:
        waiter.start()
    time.sleep(1.5)
    assert requests.get(f"{tap_url}/availability", timeout=10).status_code == 200
    assert any(waiter.is_alive() for waiter in waiters)  # the server answered while requests waited
    for job in jobs:
        assert requests.delete(job, allow_redirects=False, timeout=10).status_code == 303
    for waiter in waiters:
        waiter.join(15)
    assert not any(waiter.is_alive() for waiter in waiters)  # deleting a job releases its waiters


# -- other parameters ------------------------------------------------------------------------------

@pytest.mark.parametrize("params, message", [
    ({"DESTRUCTION": "0001-01-01T00:00:00+01:00"}, "outside the years 1 to 9999"),
    ({"DESTRUCTION": "9999-12-31T23:59:59-01:00"}, "outside the years 1 to 9999"),
    ({"DESTRUCTION": "next tuesday"}, "ISO 8601"),
    ({"EXECUTIONDURATION": "nan"}, "EXECUTIONDURATION"),
    ({"EXECUTIONDURATION": "inf"}, "EXECUTIONDURATION"),
    ({"EXECUTIONDURATION": "-5"}, "EXECUTIONDURATION"),
    ({"EXECUTIONDURATION": "0"}, "EXECUTIONDURATION"),
    ({"EXECUTIONDURATION": "1" * 5000}, "EXECUTIONDURATION"),
    ({"MAXREC": "nan"}, "MAXREC"),
    ({"MAXREC": "-1"}, "MAXREC"),
    ({"PHASE": "EXPLODE"}, "PHASE=EXPLODE"),
])
def test_bad_job_parameters_are_refused_without_creating_a_job(client, tokens, params, message):
    alice = {"Authorization": f"Bearer {tokens['alice']}"}
    before = client.get("/tap/async", headers=alice).data
    response = client.post("/tap/async", data={"LANG": "ADQL", "QUERY": "SELECT 1 AS one", "PHASE": "RUN", **params},
                           headers=alice)
    assert response.status_code == 400 and message in error_text(response), response.data
    assert client.get("/tap/async", headers=alice).data == before


def test_bad_parameters_of_existing_jobs_and_lists_are_refused(client, tokens):
    alice = {"Authorization": f"Bearer {tokens['alice']}"}
    path = _create(client, headers=alice)
    for data in ({"DESTRUCTION": "0001-01-01T00:00:00+01:00"}, {"EXECUTIONDURATION": "1e400"}):
        assert client.post(path, data=data, headers=alice).status_code == 400
    assert client.get(path, query_string={"WAIT": "1", "PHASE": "NOPE"}, headers=alice).status_code == 400
    for query in ({"AFTER": "0001-01-01T00:00:00+01:00"}, {"LAST": "0"}, {"PHASE": "NOPE"}):
        assert client.get("/tap/async", query_string=query, headers=alice).status_code == 400
    huge = client.get("/tap/async", query_string={"LAST": str(10 ** 30)}, headers=alice)
    assert huge.status_code == 200 and path.rsplit("/", 1)[1] in huge.data.decode()
    for limit in ("²", "0", str(10 ** 30), "nan"):
        assert client.get("/tap/history", query_string={"limit": limit}, headers=alice).status_code == 400


# -- SSRF through UPLOAD ---------------------------------------------------------------------------

def test_upload_urls_inside_the_network_are_refused(client, target):
    urls = [target.url("/table.xml"), target.url("/table.xml", "localhost"), target.url("/table.xml", "127.1"),
            target.url("/table.xml", "2130706433"), target.url("/table.xml", "[::ffff:127.0.0.1]"),
            target.url("/table.xml", "[::1]"), target.url("/table.xml", "0.0.0.0"),
            "http://10.0.0.1/x", "http://192.168.1.1/x", "http://172.16.0.1/x", "http://100.64.0.1/x",
            "http://169.254.169.254/latest/meta-data/", "http://224.0.0.1/x", "http://240.0.0.1/x",
            "http://[fe80::1]/x", "http://[fd00::1]/x", "https://127.0.0.1/x"]
    texts = set()
    for url in urls:
        response = within(20, lambda: upload(client, url))
        assert response.status_code == 400, (url, response.data)
        texts.add(error_text(response))
    assert target.hits == []
    assert len(texts) == 1 and "public http(s) address" in texts.pop()


def test_one_error_text_whether_the_port_is_open_or_closed(client, target, settings):
    settings(tap_upload_allow_hosts="127.0.0.1")
    listening = socket.socket()  # an open port that is not a web server: it accepts and closes
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    threading.Thread(target=lambda: listening.accept()[0].close(), daemon=True).start()
    urls = [target.url("/missing"), f"http://127.0.0.1:{free_port()}/x",
            f"http://127.0.0.1:{listening.getsockname()[1]}/x", "http://no-such-host.invalid/x"]
    try:
        texts = {error_text(within(20, lambda: upload(client, url))) for url in urls}
    finally:
        listening.close()
    assert len(texts) == 1, texts


@pytest.mark.parametrize("address, public", [
    ("8.8.8.8", True), ("2606:4700::1111", True), ("::ffff:8.8.8.8", True),
    ("127.0.0.1", False), ("10.1.2.3", False), ("172.31.0.1", False), ("192.168.0.1", False),
    ("100.64.0.1", False), ("169.254.169.254", False), ("224.0.0.1", False), ("239.255.255.250", False),
    ("240.0.0.1", False), ("255.255.255.255", False), ("0.0.0.0", False), ("192.0.2.1", False),
    ("::1", False), ("::", False), ("fe80::1", False), ("fd00::1", False), ("ff02::1", False),
    ("::ffff:127.0.0.1", False), ("2002:7f00:1::", False), ("64:ff9b::a00:1", False),
])
def test_which_addresses_are_public(address, public):
    assert is_public(ipaddress.ip_address(address)) is public


def test_the_connection_goes_to_the_address_that_was_checked(client, target, settings, monkeypatch):
    settings(tap_upload_allow_hosts="127.0.0.1")
    resolve, answers = socket.getaddrinfo, []

    def rebinding(host, *args, **kwargs):  # a name whose next answers point at the metadata service
        if host != "rebind.test":
            return resolve(host, *args, **kwargs)
        address = "127.0.0.1" if not answers else "169.254.169.254"
        answers.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, args[0] if args else 80))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    response = within(20, lambda: upload(client, target.url("/table.xml", "rebind.test")))
    assert fetched_keys(response) == sorted(KEYS) and answers == ["127.0.0.1"]


def test_allow_listed_hosts_are_fetched_and_every_redirect_is_checked(client, target, settings):
    settings(tap_upload_allow_hosts="127.0.0.1")
    assert fetched_keys(upload(client, target.url("/table.xml"))) == sorted(KEYS)
    assert fetched_keys(upload(client, target.url("/chain/3"))) == sorted(KEYS)
    hits = len(target.hits)
    too_many = within(20, lambda: upload(client, target.url("/chain/10")))
    assert too_many.status_code == 400 and len(target.hits[hits:]) == 6  # the URL and 5 redirects
    outside = target.url("/table.xml", "127.0.0.2")  # loopback, but not the allow-listed address
    hits = len(target.hits)
    refused = within(20, lambda: upload(client, target.url(f"/redirect?to={outside}")))
    assert refused.status_code == 400 and target.hits[hits:] == [f"/redirect?to={outside}"]
    assert error_text(refused) == error_text(too_many)


def test_the_servers_own_address_is_never_fetched(client, target, settings):
    settings(tap_upload_allow_hosts="127.0.0.1")
    # the request reaches the service as 127.0.0.1:<port>: that endpoint is the service itself
    response = within(20, lambda: upload(client, target.url("/table.xml"), base_url=target.url("")))
    assert response.status_code == 400 and target.hits == []


def test_fetches_are_bounded_in_size_time_and_number(app, client, target, settings, monkeypatch):
    settings(tap_upload_allow_hosts="127.0.0.1", tap_upload_max_mb=1, tap_upload_fetch_timeout_s=2)
    big = within(20, lambda: upload(client, target.url("/big")))
    assert big.status_code == 400 and "at most 1 MiB within 2 s" in error_text(big)
    started = time.monotonic()
    slow = within(15, lambda: upload(client, target.url("/drip")))
    assert slow.status_code == 400 and time.monotonic() - started < 10
    monkeypatch.setattr(app.extensions["qserv"], "fetch_slots", threading.BoundedSemaphore(1))
    target.dripping.clear()
    first = threading.Thread(target=lambda: upload(app.test_client(), target.url("/drip")), daemon=True)
    first.start()
    assert target.dripping.wait(10)
    busy = within(10, lambda: upload(client, target.url("/table.xml")))
    first.join(15)
    assert busy.status_code == 503 and "too many upload URLs" in error_text(busy)
    assert fetched_keys(upload(client, target.url("/table.xml"))) == sorted(KEYS)  # the slot is free again


# -- anonymous callers -----------------------------------------------------------------------------

def test_anonymous_callers_reach_jobs_only_by_id_and_have_no_history(client, tokens):
    path = _create(client)  # one anonymous caller
    other = ET.fromstring(client.get("/tap/async").data)  # another anonymous caller
    assert other.findall(f"{UWS}jobref") == []
    assert _phase(client.get(path)) == "PENDING"  # whoever holds the id reaches the job
    assert re.fullmatch(r"[0-9a-f]{16,}", path.rsplit("/", 1)[1])
    history = client.get("/tap/history")
    assert history.status_code == 401 and "bearer token" in error_text(history)
    alice = client.get("/tap/history", headers={"Authorization": f"Bearer {tokens['alice']}"})
    assert alice.status_code == 200 and alice.get_json()["user"] == "alice"
    assert client.delete(path).status_code == 303 and client.get(path).status_code == 404


# -- token use -------------------------------------------------------------------------------------

def test_a_tokens_last_use_is_written_at_most_once_a_minute(app, client, tokens):
    store = app.extensions["qserv"].engine.store
    updates = []

    def count(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("UPDATE TOKENS"):
            updates.append(statement)

    alice = {"Authorization": f"Bearer {tokens['alice']}"}
    event.listen(store.engine, "before_cursor_execute", count)
    try:
        for _ in range(5):
            assert client.get("/tap/async", headers=alice).status_code == 200
        assert len(updates) <= 1
        with store.session() as session:  # a minute later the next use is written again
            for token in session.query(Token).all():
                token.last_used_at = utc_now() - timedelta(minutes=2)
        updates.clear()
        assert client.get("/tap/async", headers=alice).status_code == 200
        assert len(updates) == 1
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
