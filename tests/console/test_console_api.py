"""The console's server side over HTTP: assets with ETag / Cache-Control, the example queries
(run through /tap/sync and compared with numpy), the chunk grid (against healpy), and explain
(published tables only for a non-admin)."""

import io

import healpy
import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest
import requests

from qserv.formats.votable import votable_bytes
from tests.api.conftest import objects_table

ASSETS = ["/", "/console/static/console.css", "/console/static/query.js", "/console/static/sky.js"]


def sync_csv(base, query, token=None, files=None, upload=None):
    data = {"LANG": "ADQL", "QUERY": query, "RESPONSEFORMAT": "csv", **({"UPLOAD": upload} if upload else {})}
    answer = requests.post(f"{base}/tap/sync", data=data, files=files, timeout=60,
                           headers={"Authorization": f"Bearer {token}"} if token else {})
    assert answer.status_code == 200, answer.text
    return pa_csv.read_csv(io.BytesIO(answer.content))


def separation_deg(ra1, dec1, ra2, dec2):
    ra1, dec1, ra2, dec2 = map(np.radians, (ra1, dec1, ra2, dec2))
    half = np.sin((dec2 - dec1) / 2) ** 2 + np.cos(dec1) * np.cos(dec2) * np.sin((ra2 - ra1) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(half)))


@pytest.fixture(scope="module")
def examples(served):
    base, _, _ = served
    found = requests.get(f"{base}/console/api/catalogs", timeout=30).json()["tables"]
    assert [t["table"] for t in found] == ["sky.Object"]  # the one director table
    return {example["title"].split()[0]: example for example in found[0]["examples"]}


@pytest.mark.parametrize("path", ASSETS)
def test_assets_have_caching_headers_and_revalidate(served, path):
    base, _, _ = served
    first = requests.get(base + path, timeout=30)
    assert first.status_code == 200 and "max-age" in first.headers["Cache-Control"]
    again = requests.get(base + path, headers={"If-None-Match": first.headers["ETag"]}, timeout=30)
    assert again.status_code == 304 and not again.content
    assert requests.get(base + path, headers={"If-None-Match": '"other"'}, timeout=30).status_code == 200


@pytest.mark.parametrize("path", ["/console/static/nope.js", "/console/static/..%2F__init__.py",
                                  "/console/static/%2E%2E%2Fcatalogs.py"])
def test_other_paths_are_not_served(served, path):
    base, _, _ = served
    assert requests.get(base + path, timeout=30).status_code == 404


def test_cone_example_matches_brute_force(served, examples):
    base, _, _ = served
    cone = examples["Cone"]["query"]
    rows = objects_table()
    ra0, dec0, radius = (float(v) for v in cone.split("CIRCLE('ICRS', ")[1].split(")")[0].split(","))
    near = separation_deg(rows["ra"].to_numpy(), rows["decl"].to_numpy(), ra0, dec0) <= radius
    got = sync_csv(base, cone)
    assert 0 < near.sum() and sorted(got["objectId"].to_pylist()) == sorted(rows["objectId"].to_numpy()[near].tolist())


def test_aggregate_example_matches_numpy(served, examples):
    base, _, _ = served
    got = sync_csv(base, examples["Rows"]["query"])
    dec = objects_table()["decl"].to_numpy()
    bands, counts = np.unique(np.floor(dec / 30) * 30, return_counts=True)
    assert got["dec_band"].to_pylist() == bands.tolist() and got["n"].to_pylist() == counts.tolist()


def test_crossmatch_example_with_an_upload(served, examples):
    base, _, _ = served
    rows = objects_table()
    rng = np.random.default_rng(5)
    picked = rng.choice(rows.num_rows, 20, replace=False)
    mine = pa.table({"ra": rows["ra"].to_numpy()[picked] + 1e-4, "dec": rows["decl"].to_numpy()[picked]})
    example = examples["Crossmatch"]
    got = sync_csv(base, example["query"], upload=f"{example['upload']},param:f",
                   files={"f": ("mine.xml", votable_bytes(mine))})
    sep = separation_deg(mine["ra"].to_numpy()[:, None], mine["dec"].to_numpy()[:, None],
                         rows["ra"].to_numpy()[None, :], rows["decl"].to_numpy()[None, :]) * 3600
    expected = sorted(rows["objectId"].to_numpy()[np.nonzero(sep <= 2.0)[1]].tolist())
    assert len(expected) >= 20 and sorted(got["objectId"].to_pylist()) == expected


def test_chunk_grid_outlines_the_populated_chunks(served):
    base, _, _ = served
    grid = requests.get(f"{base}/console/api/chunk_grid", params={"table": "sky.Object"}, timeout=30).json()
    rows = objects_table()
    nside = healpy.order2nside(grid["chunk_order"])
    pixels = healpy.ang2pix(nside, rows["ra"].to_numpy(), rows["decl"].to_numpy(), nest=True, lonlat=True)
    holding = np.bincount(pixels, minlength=12 * nside ** 2)
    assert grid["chunks_total"] >= np.count_nonzero(holding)  # overlap-only chunks count too
    for chunk in grid["chunks"]:
        line = np.array(chunk["boundary"])
        centre = healpy.ang2vec(line[:, 0], line[:, 1], lonlat=True).mean(axis=0)
        assert healpy.vec2pix(nside, *centre, nest=True) == chunk["chunk"]
        assert chunk["rows"] == holding[chunk["chunk"]]
    replicated = requests.get(f"{base}/console/api/chunk_grid", params={"table": "sky.Numbers"}, timeout=30)
    assert replicated.status_code == 404


def test_explain_shows_unpublished_tables_to_admins_only(served):
    base, _, tokens = served
    admin = {"Authorization": f"Bearer {tokens['root']}"}
    requests.post(f"{base}/admin/v1/databases", json={"name": "hidden"}, headers=admin, timeout=30).raise_for_status()
    requests.post(f"{base}/admin/v1/tables", headers=admin, timeout=30, json={
        "table": "hidden.T", "kind": "replicated", "columns": [{"name": "n", "datatype": "long"}]}).raise_for_status()
    query = {"QUERY": "SELECT n FROM hidden.T"}
    as_root = requests.post(f"{base}/console/api/explain", data=query, headers=admin, timeout=30)
    assert as_root.status_code == 200 and "replicated tables only" in as_root.json()["explain"]
    as_alice = requests.post(f"{base}/console/api/explain", data=query, timeout=30,
                             headers={"Authorization": f"Bearer {tokens['alice']}"})
    assert as_alice.status_code in (400, 404) and "hidden" in as_alice.json()["error"].lower()
    empty = requests.post(f"{base}/console/api/explain", data={"QUERY": " "}, timeout=30)
    assert empty.status_code == 400 and "QUERY" in empty.json()["error"]
