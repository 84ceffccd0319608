"""The Data Backbone registry on the core (DuckDB workers; chain resolution on PostgreSQL workers
too): find along random chains and calibration lookups against brute force, sky searches against
numpy, idempotent re-registration, bad input leaving nothing half-registered, memberships,
lineage, ObsCore rows through ADQL."""

import random
import re

import numpy as np
import pytest

import qserv
from qserv.errors import ConflictError, NotFoundError, UserError
from qserv.payloads.backbone import Backbone, find, lineage, query_datasets, sky_search
from qserv.payloads.backbone.sky import separation_deg

VISITS, DETECTORS = range(4), range(3)


@pytest.fixture
def new_backbone(tmp_path_factory, new_instance):
    engines = []

    def create(backend="duckdb"):
        home = tmp_path_factory.mktemp("backbone-home")
        new_instance(home, backend, 2)
        engine = qserv.open(home)
        engines.append(engine)
        backbone = Backbone.create(engine, "bb", chunk_order=5)
        backbone.add_dataset_type("calexp", ["instrument", "visit", "detector"], "ExposureF")
        backbone.add_dataset_type("bias", ["instrument", "detector"], "ExposureF")
        return backbone

    yield create
    for engine in engines:
        engine.close()


def calexps(rng, run, keep=0.6):
    return [{"dataset_type": "calexp", "instrument": "Cam", "visit": v, "detector": d,
             "uri": f"file:///{run}/{v}_{d}.fits", "size": 2000}
            for v in VISITS for d in DETECTORS if rng.random() < keep]


def count(backbone, table, database=None):
    return backbone.engine.query(f"SELECT COUNT(*) AS n FROM {database or backbone.database}.{table}")["n"][0].as_py()


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_find_along_random_chains_matches_brute_force(new_backbone, backend):
    rng = random.Random(5 if backend == "duckdb" else 6)
    backbone = new_backbone(backend)
    holds = {}  # collection -> {(visit, detector): uri}
    for i in range(4):
        rows = calexps(rng, f"run{i}")
        backbone.register(f"run{i}", rows)
        holds[f"run{i}"] = {(r["visit"], r["detector"]): r["uri"] for r in rows}
    backbone.add_collection("tag", "tagged")
    picked = rng.sample(sorted(holds["run2"]), 4)
    found = find(backbone, "calexp", ["run2"])
    backbone.associate("tag", [f["id"] for f in found if (f["visit"], f["detector"]) in picked])
    holds["tag"] = {k: holds["run2"][k] for k in picked}
    graph = {name: [] for name in holds}
    for i in range(4):
        children = rng.sample(sorted(holds) + [f"chain{j}" for j in range(i)], rng.randint(1, 3))
        backbone.add_collection(f"chain{i}", "chained", children)
        graph[f"chain{i}"] = children

    def leaves(name):
        return [name] if not graph[name] else [leaf for child in graph[name] for leaf in leaves(child)]

    for _ in range(6):
        names = rng.sample(sorted(graph), 2)
        path = [leaf for name in names for leaf in leaves(name)]
        visit = rng.choice(VISITS)
        expected = {}
        for collection in path:
            for (v, d), uri in holds[collection].items():
                if v == visit and (v, d) not in expected:
                    expected[(v, d)] = (uri, collection)
        got = find(backbone, "calexp", names, f"visit = {visit}")
        assert {(f["visit"], f["detector"]): (f["uri"], f["collection"]) for f in got} == expected
        # a full data id (every dimension pinned): the same answer, reading one bucket per data id
        detectors = rng.sample(DETECTORS, 2)
        issued = []
        query = backbone.engine.query
        backbone.engine.query = lambda text, **kw: issued.append(text) or query(text, **kw)
        try:
            got = find(backbone, "calexp", names,
                       f"instrument = 'Cam' AND (visit = {visit}) AND detector IN ({detectors[0]}, {detectors[1]})")
        finally:
            backbone.engine.query = query
        assert {(f["visit"], f["detector"]): (f["uri"], f["collection"]) for f in got} == {
            k: v for k, v in expected.items() if k[1] in detectors}
        reads = [int(re.search(r"^chunks: (\d+) of", backbone.engine.explain(t), re.M).group(1))
                 for t in issued if re.search(r"FROM bb\.(dataset|artifact) ", t)]
        assert reads and max(reads) <= 2
    backbone.add_collection("top", "chained", ["chain0"])
    with pytest.raises(UserError, match="cycle"):
        backbone.add_collection("chain0", "chained", ["run0", "top"])
    assert backbone.collections()["chain0"][1] == graph["chain0"]


def test_calibration_lookup_matches_brute_force(new_backbone):
    rng = random.Random(9)
    backbone = new_backbone()
    certified = {"calA": [], "calB": []}  # (detector, begin, end, uri)
    for name in certified:
        backbone.add_collection(name, "calibration")
    for k in range(8):
        detector = rng.choice(DETECTORS)
        uri = f"file:///bias/{k}.fits"
        ids = backbone.register(f"bias/{k}", [{"dataset_type": "bias", "instrument": "Cam", "detector": detector,
                                               "uri": uri}])["ids"]
        collection = rng.choice(sorted(certified))
        begin = rng.choice([None, rng.randint(0, 40)])
        end = rng.choice([None, (begin or 0) + rng.randint(1, 20)])
        taken = [(b, e) for d, b, e, _ in certified[collection] if d == detector]
        clash = any(max(begin if begin is not None else -1e9, b if b is not None else -1e9) <
                    min(end if end is not None else 1e9, e if e is not None else 1e9) for b, e in taken)
        if clash:
            before = count(backbone, "calib")
            with pytest.raises(ConflictError):
                backbone.certify(collection, ids, begin, end)
            assert count(backbone, "calib") == before
        else:
            backbone.certify(collection, ids, begin, end)
            certified[collection].append((detector, begin, end, uri))
    backbone.add_collection("calib", "chained", ["calB", "calA"])
    for t in np.arange(-5, 65, 2.5):
        expected = {}
        for collection in ["calB", "calA"]:
            for d, b, e, uri in certified[collection]:
                if (b is None or b <= t) and (e is None or t < e) and d not in expected:
                    expected[d] = uri
        got = find(backbone, "bias", ["calib"], time=float(t))
        assert {f["detector"]: f["uri"] for f in got} == expected
    with pytest.raises(UserError, match="give a time"):
        find(backbone, "bias", ["calib"])


def test_sky_search_and_obscore_match_brute_force(new_backbone):
    rng = np.random.default_rng(4)
    backbone = new_backbone()
    n = 400
    ra, dec, fov = rng.uniform(30, 40, n), rng.uniform(-5, 5, n), rng.uniform(0.05, 0.6, n)
    rows = [{"dataset_type": "calexp", "instrument": "Cam", "visit": i // 10, "detector": i % 10,
             "uri": f"s3://b/{i}.fits", "size": 4096, "s_ra": ra[i], "s_dec": dec[i], "s_fov": fov[i],
             "t_min": 60000.0 + i, "t_max": 60000.01 + i, "band": "r"} for i in range(n)]
    ids = np.array(backbone.register("run", rows)["ids"])
    for _ in range(10):
        c_ra, c_dec, radius = rng.uniform(30, 40), rng.uniform(-5, 5), rng.uniform(0.1, 1.5)
        expected = sorted(ids[separation_deg(ra, dec, c_ra, c_dec) <= fov / 2 + radius])
        assert sky_search(backbone, c_ra, c_dec, radius) == expected
        obscore = backbone.engine.query(
            f"SELECT obs_id, access_url FROM ivoa.ObsCore "
            f"WHERE CONTAINS(POINT(s_ra, s_dec), CIRCLE({c_ra}, {c_dec}, {radius})) = 1")
        centres = ids[separation_deg(ra, dec, c_ra, c_dec) <= radius]
        assert sorted(obscore["obs_id"].to_pylist()) == sorted(centres)
        uris = dict(zip(ids, (r["uri"] for r in rows)))
        assert all(uris[i] == u for i, u in zip(obscore["obs_id"].to_pylist(), obscore["access_url"].to_pylist()))
    found = query_datasets(backbone, "calexp", ["run"], "detector < 5", (60010, 60100), (35, 0, 2.0))
    mask = ((separation_deg(ra, dec, 35, 0) <= fov / 2 + 2.0) & (np.arange(n) % 10 < 5)
            & (60000.01 + np.arange(n) >= 60010) & (60000.0 + np.arange(n) <= 60100))
    assert sorted(f["id"] for f in found) == sorted(ids[mask])


def test_registration_is_idempotent_and_bad_input_writes_nothing(new_backbone):
    backbone = new_backbone()
    rows = calexps(random.Random(1), "run", keep=1.0)
    for row in rows:
        row.update(s_ra=10.0 + row["visit"], s_dec=0.0, s_fov=0.1)
    first = backbone.register("run", rows, batch_rows=5)
    again = backbone.register("run", rows, batch_rows=5)
    assert first["registered"] == len(rows) and again == {**first, "registered": 0, "existing": len(rows)}
    tables = ("dataset", "artifact", "replica", "region")
    counts = {t: count(backbone, t) for t in tables}
    assert set(counts.values()) == {len(rows)} and count(backbone, "ObsCore", "ivoa") == len(rows)
    bad_inputs = [
        ({"dataset_type": "nope"}, NotFoundError, "unknown dataset type"),
        ({"visit": None}, UserError, "misses dimension"),
        ({"tract": 3}, UserError, "not dimensions of"),
        ({"colour": "red"}, UserError, "unknown column"),
        ({"s_ra": 10.0, "s_dec": 95.0}, UserError, "not a sky position"),
        ({"uri": None}, UserError, "needs a uri"),
    ]
    for change, error, message in bad_inputs:
        fresh = [{**r, "visit": r["visit"] + 100} for r in rows]
        fresh[-1] = {**fresh[-1], **change}
        with pytest.raises(error, match=message):
            backbone.register("run2", fresh)
        assert {t: count(backbone, t) for t in tables} == counts
    with pytest.raises(ConflictError):
        backbone.add_dataset_type("calexp", ["instrument", "visit"])
    with pytest.raises(UserError, match="unknown dimension"):
        backbone.add_dataset_type("other", ["instrument", "colour"])


def test_tagging_and_lineage(new_backbone):
    backbone = new_backbone()
    raw = backbone.register("raw", calexps(random.Random(2), "raw", keep=1.0)[:3])["ids"]
    made = backbone.register("proc", [{"dataset_type": "bias", "instrument": "Cam", "detector": 0, "uri": "b.fits",
                                       "inputs": raw[:2], "task": "isr"}])["ids"]
    later = backbone.register("proc2", [{"dataset_type": "bias", "instrument": "Cam", "detector": 0,
                                         "uri": "c.fits", "inputs": made, "task": "combine"}])["ids"]
    up = lineage(backbone, later[0])
    assert [(e["output_id"], e["input_id"], e["depth"]) for e in up] == \
        [(later[0], made[0], 1)] + sorted([(made[0], r, 2) for r in raw[:2]])
    assert [e["output_id"] for e in lineage(backbone, raw[0], "down")] == [made[0], later[0]]
    backbone.add_collection("tag", "tagged")
    assert backbone.associate("tag", raw) == 3 and backbone.associate("tag", raw) == 0
    assert backbone.disassociate("tag", raw[:1]) == 1
    assert sorted(f["id"] for f in find(backbone, "calexp", ["tag"])) == sorted(raw[1:])
    backbone.associate("tag", raw[:1])
    assert len(find(backbone, "calexp", ["tag"])) == 3
    with pytest.raises(NotFoundError):
        backbone.associate("tag", ["00000000-0000-5000-8000-000000000000"])
    with pytest.raises(NotFoundError):
        backbone.register("x", [{"dataset_type": "bias", "instrument": "Cam", "detector": 1, "uri": "d",
                                 "inputs": ["00000000-0000-5000-8000-000000000000"]}])
