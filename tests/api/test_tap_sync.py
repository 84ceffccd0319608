"""/tap/sync, the root page, /history and authentication, through Flask's test client."""

import datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
import io
import threading

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from astropy.io import fits
from astropy.io.votable import from_table, parse_single_table
from astropy.table import Table

from qserv.formats.votable import votable_bytes


def _votable(response):
    return parse_single_table(io.BytesIO(response.data))


def _status(response):
    text = response.data.decode()
    return [part.split('"')[0] for part in text.split('name="QUERY_STATUS" value="')[1:]]


def test_root_page_lists_endpoints_and_tables(client):
    page = client.get("/tap")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert b"sky.Object" in page.data and b"http://localhost/tap/sync" in page.data


def test_sync_get_and_post_with_case_insensitive_names_and_ignored_unknowns(client):
    query = "SELECT TOP 5 objectId, ra, decl FROM sky.Object ORDER BY objectId"
    by_get = client.get("/tap/sync", query_string={"lAnG": "ADQL", "qUeRy": query, "whatever": "x"})
    by_post = client.post("/tap/sync", data={"LANG": "ADQL-2.1", "QUERY": query})
    assert by_get.status_code == by_post.status_code == 200
    assert by_get.content_type == "application/x-votable+xml"
    assert list(_votable(by_get).array["objectId"]) == list(_votable(by_post).array["objectId"]) == [0, 1, 2, 3, 4]
    assert _status(by_get) == ["OK"]


def test_field_types_and_metadata_are_the_declared_ones(client):
    response = client.get("/tap/sync", query_string={"LANG": "ADQL", "QUERY": "SELECT TOP 3 * FROM sky.Object"})
    fields = {field.name: field for field in _votable(response).fields}
    assert fields["objectId"].datatype == "long" and fields["mag"].datatype == "float"
    assert fields["name"].datatype == "char" and fields["name"].arraysize == "6"
    assert fields["seen"].xtype == "timestamp" and str(fields["ra"].unit) == "deg"
    assert fields["ra"].ucd == "pos.eq.ra;meta.main"


@pytest.mark.parametrize("value, serialization", [("votable", "BINARY2"), ("votable/td", "TABLEDATA"),
                                                  ("application/x-votable+xml;serialization=TABLEDATA", "TABLEDATA")])
def test_votable_serializations(client, value, serialization):
    response = client.get("/tap/sync", query_string={"LANG": "ADQL", "RESPONSEFORMAT": value,
                                                     "QUERY": "SELECT TOP 4 objectId, mag FROM sky.Object ORDER BY objectId"})
    assert f"<{serialization}>".encode() in response.data
    assert list(_votable(response).array["objectId"]) == [0, 1, 2, 3]


def test_other_formats_read_back(client, objects):
    query = "SELECT objectId, mag FROM sky.Object WHERE objectId < 10 ORDER BY objectId"
    expected = objects.slice(0, 10)

    def get(fmt):
        response = client.get("/tap/sync", query_string={"LANG": "ADQL", "FORMAT": fmt, "QUERY": query})
        assert response.status_code == 200, response.data
        return response

    csv = get("csv")
    assert csv.content_type == "text/csv;header=present"
    assert csv.data.decode().splitlines()[:2] == ['"objectId","mag"', "0,"]  # row 0 has a NULL magnitude
    tsv = get("text/tab-separated-values")
    assert tsv.data.decode().splitlines()[1].split("\t")[0] == "0"
    parquet = pq.read_table(io.BytesIO(get("parquet").data))
    assert parquet.column("objectId").to_pylist() == list(range(10))
    assert parquet.column("mag").to_pylist()[1:] == expected.column("mag").to_pylist()[1:]
    with fits.open(io.BytesIO(get("application/fits").data)) as hdus:
        assert list(hdus[1].data["objectId"]) == list(range(10))


def test_maxrec_overflow_and_zero(client):
    def run(query, maxrec):
        return client.get("/tap/sync", query_string={"LANG": "ADQL", "QUERY": query, "MAXREC": maxrec})

    capped = run("SELECT objectId FROM sky.Object", 7)
    assert len(_votable(capped).array) == 7 and _status(capped) == ["OK", "OVERFLOW"]
    top_smaller = run("SELECT TOP 3 objectId FROM sky.Object", 7)
    assert len(_votable(top_smaller).array) == 3 and _status(top_smaller) == ["OK"]
    top_larger = run("SELECT TOP 30 objectId FROM sky.Object", 7)
    assert len(_votable(top_larger).array) == 7 and _status(top_larger) == ["OK", "OVERFLOW"]
    exact = run("SELECT objectId FROM sky.Object WHERE objectId < 7", 7)
    assert len(_votable(exact).array) == 7 and _status(exact) == ["OK"]
    zero = run("SELECT objectId, ra FROM sky.Object", 0)
    table = _votable(zero)
    assert len(table.array) == 0 and [f.name for f in table.fields] == ["objectId", "ra"]
    assert _status(zero) == ["OK", "OVERFLOW"]


@pytest.mark.parametrize("params, status, message", [
    ({"QUERY": "SELECT 1"}, 400, "LANG parameter is missing"),
    ({"LANG": "SQL", "QUERY": "SELECT 1"}, 400, "LANG=SQL is not supported"),
    ({"LANG": "ADQL"}, 400, "QUERY parameter is missing"),
    ({"LANG": "ADQL", "QUERY": "SELECT nope FROM sky.Object"}, 400, "unknown column nope"),
    ({"LANG": "ADQL", "QUERY": "SELEC 1"}, 400, ""),
    ({"LANG": "ADQL", "QUERY": "SELECT 1", "MAXREC": "-1"}, 400, "MAXREC must be"),
    ({"LANG": "ADQL", "QUERY": "SELECT 1", "RESPONSEFORMAT": "xls"}, 400, "RESPONSEFORMAT=xls"),
    ({"LANG": "ADQL", "QUERY": "SELECT 1", "REQUEST": "getCapabilities"}, 400, "REQUEST=getCapabilities"),
])
def test_errors_are_votable_documents_with_http_400(client, params, status, message):
    response = client.get("/tap/sync", query_string=params)
    assert response.status_code == status and response.content_type == "application/x-votable+xml"
    assert _status(response) == ["ERROR"] and message in response.data.decode()
    assert b"Traceback" not in response.data


def test_sync_time_limit_tells_to_use_async(client, app):
    engine = app.extensions["qserv"].engine
    engine.settings["tap_sync_timeout_s"] = 0.2
    try:
        response = client.get("/tap/sync", query_string={
            "LANG": "ADQL", "QUERY": "SELECT COUNT(*) FROM sky.Numbers a, sky.Numbers b, sky.Numbers c "
                                     "WHERE MOD(a.n * 7 + b.n * 3 + c.n, 1000003) = 17"})
    finally:
        engine.settings["tap_sync_timeout_s"] = 600
    assert response.status_code == 408 and _status(response) == ["ERROR"]
    assert b"/tap/async" in response.data and b"time limit" in response.data


def _upload_votable(table):
    buffer = io.BytesIO()
    from_table(table).to_xml(buffer, tabledata_format="binary2")
    return buffer.getvalue()


def test_inline_upload_crossmatch_and_nulls(client, objects):
    picked = [5, 17, 2000]
    positions = Table({"tag": ["a", "b", "c", "d"], "weight": [1.5, 2.5, 3.5, 4.5],
                       "ra": np.array([objects.column("ra")[i].as_py() for i in picked] + [10.0]),
                       "dec": np.array([objects.column("decl")[i].as_py() for i in picked] + [89.0])},
                      masked=True)
    positions["weight"].mask = [False, True, False, False]
    response = client.post("/tap/sync", data={
        "LANG": "ADQL", "FORMAT": "votable",
        "QUERY": "SELECT u.tag, u.weight, o.objectId FROM TAP_UPLOAD.pos AS u JOIN sky.Object AS o "
                 "ON DISTANCE(POINT(u.ra, u.dec), POINT(o.ra, o.decl)) < 0.0001 ORDER BY o.objectId",
        "UPLOAD": "pos,param:table1",
        "table1": (io.BytesIO(_upload_votable(positions)), "pos.xml")})
    assert response.status_code == 200, response.data
    result = _votable(response).to_table()
    assert list(result["objectId"]) == picked
    assert list(result["tag"]) == ["a", "b", "c"]
    assert list(result["weight"].mask) == [False, True, False] and result["weight"][2] == 3.5


def test_upload_errors(client):
    base = {"LANG": "ADQL", "QUERY": "SELECT * FROM TAP_UPLOAD.t"}
    missing = client.post("/tap/sync", data={**base, "UPLOAD": "t,param:nothere"})
    assert missing.status_code == 400 and b"no part named 'nothere'" in missing.data
    garbage = client.post("/tap/sync", data={**base, "UPLOAD": "t,param:f", "f": (io.BytesIO(b"<nope"), "f.xml")})
    assert garbage.status_code == 400 and b"not a readable VOTable" in garbage.data
    scheme = client.post("/tap/sync", data={**base, "UPLOAD": "t,ftp://example.org/x"})
    assert scheme.status_code == 400 and b"unsupported URI" in scheme.data


def test_history_shows_only_the_callers_queries(client, tokens):
    for user in ("alice", "bob"):
        client.get("/tap/sync", headers={"Authorization": f"Bearer {tokens[user]}"},
                   query_string={"LANG": "ADQL", "QUERY": f"SELECT TOP 1 objectId FROM sky.Object -- {user}"})
    alice = client.get("/tap/history", headers={"Authorization": f"Bearer {tokens['alice']}"}).get_json()
    assert alice["user"] == "alice" and alice["queries"]
    assert {q["user"] for q in alice["queries"]} == {"alice"} and "-- alice" in alice["queries"][0]["query"]
    admin = client.get("/tap/history", headers={"Authorization": f"Bearer {tokens['root']}"}).get_json()
    assert {"alice", "bob"} <= {q["user"] for q in admin["queries"]}


def test_tokens_and_anonymous_access(client, app):
    bad = client.get("/tap/sync", headers={"Authorization": "Bearer nope"},
                     query_string={"LANG": "ADQL", "QUERY": "SELECT 1"})
    assert bad.status_code == 401 and b"unknown or revoked" in bad.data
    engine = app.extensions["qserv"].engine
    engine.settings["tap_anonymous_read"] = 0
    try:
        refused = client.get("/tap/sync", query_string={"LANG": "ADQL", "QUERY": "SELECT 1"})
        capabilities = client.get("/tap/capabilities")
        availability = client.get("/tap/availability")
    finally:
        engine.settings["tap_anonymous_read"] = 1
    assert refused.status_code == 401 and b"needs a bearer token" in refused.data
    assert capabilities.status_code == availability.status_code == 200


def test_tables_and_tap_schema_agree(client):
    tables = client.get("/tap/tables").data.decode()
    assert "sky.Object" in tables and "objectId" in tables
    minimal = client.get("/tap/tables?detail=min").data.decode()
    assert "sky.Object" in minimal and "<column>" not in minimal.replace(" ", "")
    listed = client.get("/tap/sync", query_string={
        "LANG": "ADQL", "FORMAT": "csv",
        "QUERY": "SELECT column_name, datatype, arraysize FROM TAP_SCHEMA.columns "
                 "WHERE table_name = 'sky.Object' ORDER BY column_index"}).data.decode().splitlines()
    assert [line.replace('"', "") for line in listed[1:]] == [
        "objectId,long,", "ra,double,", "decl,double,", "mag,float,", "name,char,6", "seen,char,*"]
    assert client.get("/tap/tables/sky.Object").status_code == 200
    assert client.get("/tap/tables/sky.Nothing").status_code == 404


def test_http_upload_with_timestamps_round_trips(client, app):
    when = pa.array([datetime.datetime(2026, 11, 21, 10, 30, 15, 250000), datetime.datetime(2000, 1, 1)],
                    pa.timestamp("us"))
    document = votable_bytes(pa.table({"k": pa.array([1, 2], pa.int64()), "t": when}), serialization="tabledata")
    assert b'xtype="timestamp"' in document

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/x-votable+xml")
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings = app.extensions["qserv"].engine.settings
    settings["tap_upload_allow_hosts"] = "127.0.0.1"  # loopback is refused unless allow-listed
    try:
        response = client.get("/tap/sync", query_string={
            "LANG": "ADQL", "FORMAT": "votable",
            "QUERY": "SELECT k, t FROM TAP_UPLOAD.remote WHERE t > '2010-01-01T00:00:00' ORDER BY k",
            "UPLOAD": f"remote,http://127.0.0.1:{server.server_port}/positions.xml"})
    finally:
        settings["tap_upload_allow_hosts"] = ""
        server.shutdown()
    assert response.status_code == 200, response.data
    result = _votable(response)
    field = {f.name: f for f in result.fields}["t"]
    assert field.xtype == "timestamp"
    assert list(result.array["k"]) == [1]
    assert str(result.array["t"][0]).startswith("2026-11-21T10:30:15.25")
