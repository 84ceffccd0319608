"""Inline tables (TAP uploads) on both backends: read alone at the czar, joined with sharded and
replicated tables inside worker statements, and a positional crossmatch routed to the chunks near
the uploaded positions, checked against astropy's separation over all pairs."""

import datetime

import numpy as np
import pyarrow as pa
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

import qserv
from qserv.errors import UserError
from qserv.meta.admin import TableSpec
from qserv.schema.columns import Column, column_of_field

OBJECT_COLUMNS = [Column("objectId", "long", False), Column("ra", "double", False, unit="deg", ucd="pos.eq.ra"),
                  Column("decl", "double", False, unit="deg"), Column("mag", "double"),
                  Column("name", "char", length=8)]
CHUNK_ORDER = 5


def _objects(count, seed=3):
    rng = np.random.default_rng(seed)
    # half uniform over the sky, half crowded around chunk corners, RA 0/360 and the poles
    uniform = count // 2
    ra = np.concatenate([rng.uniform(0, 360, uniform), rng.choice([0.0, 45.0, 359.99, 90.0], count - uniform)
                         + rng.normal(0, 0.05, count - uniform)]) % 360.0
    dec = np.concatenate([np.degrees(np.arcsin(rng.uniform(-1, 1, uniform))),
                          rng.choice([0.0, 41.8103, 89.95, -89.95], count - uniform)
                          + rng.normal(0, 0.05, count - uniform)]).clip(-90, 90)
    return pa.table({"objectId": np.arange(count, dtype=np.int64), "ra": ra, "decl": dec,
                     "mag": rng.normal(20, 1, count), "name": [f"o{i}" for i in range(count)]})


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def engine(request, tmp_path_factory, new_instance):
    home = tmp_path_factory.mktemp(f"inline-{request.param}")
    new_instance(home, request.param, 3)
    with qserv.open(home) as opened:
        opened.create_database("sky", chunk_order=CHUNK_ORDER, subchunk_order=8, overlap_arcsec=60.0)
        opened.create_table("sky.Object", TableSpec("director", OBJECT_COLUMNS, id_column="objectId",
                                                    ra_column="ra", dec_column="decl"))
        opened.create_table("sky.Band", TableSpec("replicated", [Column("band", "string"), Column("n", "long")]))
        opened.ingest("sky.Object", [_objects(30000)])
        opened.ingest("sky.Band", [pa.table({"band": ["g", "r"], "n": [1, 2]})])
        yield opened


@pytest.fixture(scope="module")
def objects():
    return _objects(30000)


def _upload(objects, count=300, seed=5):
    """Positions near catalog objects (so pairs exist), a few far away, and one NULL position."""
    rng = np.random.default_rng(seed)
    picked = rng.choice(objects.num_rows, count, replace=False)
    ra = (objects.column("ra").to_numpy()[picked] + rng.normal(0, 2e-4, count)) % 360.0
    dec = (objects.column("decl").to_numpy()[picked] + rng.normal(0, 2e-4, count)).clip(-90, 90)
    ra_column = pa.array(list(ra) + [None], pa.float64())
    dec_column = pa.array(list(dec) + [None], pa.float64())
    return pa.table({"pos_id": np.arange(count + 1, dtype=np.int32), "ra_deg": ra_column, "dec_deg": dec_column})


def _pairs_by_astropy(upload, objects, radius_deg):
    valid = upload.filter(upload.column("ra_deg").is_valid())
    mine = SkyCoord(valid.column("ra_deg").to_numpy() * u.deg, valid.column("dec_deg").to_numpy() * u.deg)
    theirs = SkyCoord(objects.column("ra").to_numpy() * u.deg, objects.column("decl").to_numpy() * u.deg)
    close = mine[:, None].separation(theirs[None, :]) < radius_deg * u.deg  # all pairs
    index_mine, index_theirs = np.nonzero(close)
    ids = valid.column("pos_id").to_numpy()[index_mine]
    return sorted(zip(ids.tolist(), objects.column("objectId").to_numpy()[index_theirs].tolist()))


@pytest.mark.parametrize("radius_arcsec", [2.0, 30.0])
def test_upload_crossmatch_equals_astropy_and_reads_few_chunks(engine, objects, radius_arcsec):
    upload = _upload(objects)
    radius_deg = radius_arcsec / 3600.0
    text = (f"SELECT u.pos_id, o.objectId FROM TAP_UPLOAD.mine AS u, sky.Object AS o "
            f"WHERE DISTANCE(POINT(u.ra_deg, u.dec_deg), POINT(o.ra, o.decl)) < {radius_deg!r}")
    result = engine.query(text, uploads={"mine": upload})
    got = sorted(zip(result.column("pos_id").to_pylist(), result.column("objectId").to_pylist()))
    expected = _pairs_by_astropy(upload, objects, radius_deg)
    assert len(expected) >= 300 and got == expected
    explanation = engine.explain(text, uploads={"mine": upload})
    touched = int(next(line for line in explanation.splitlines() if line.startswith("chunks:")).split()[1])
    assert touched <= 2 * 300, explanation.splitlines()[:5]


def test_qserv_sql_crossmatch_with_angsep_and_the_other_argument_order(engine, objects):
    upload = _upload(objects, count=50, seed=8)
    text = ("SELECT u.pos_id, o.objectId FROM sky.Object o JOIN TAP_UPLOAD.t u "
            "ON scisql_angSep(o.ra, o.decl, u.ra_deg, u.dec_deg) <= 0.001")
    result = engine.query(text, lang="qserv", uploads={"t": upload})
    got = sorted(zip(result.column("pos_id").to_pylist(), result.column("objectId").to_pylist()))
    assert got == _pairs_by_astropy(upload, objects, 0.001)


def test_upload_alone_and_with_replicated_and_in_a_subquery(engine):
    upload = pa.table({"id": pa.array([5, 7, 11, None], pa.int64()), "band": ["g", "r", "x", "g"]})
    alone = engine.query("SELECT COUNT(*) AS n, SUM(id) AS s FROM TAP_UPLOAD.t", uploads={"t": upload})
    assert alone.to_pylist() == [{"n": 4, "s": 23}]
    joined = engine.query("SELECT t.id, b.n FROM TAP_UPLOAD.t AS t JOIN sky.Band AS b ON b.band = t.band "
                          "ORDER BY t.id", uploads={"t": upload})
    assert joined.to_pylist() == [{"id": None, "n": 1}, {"id": 5, "n": 1}, {"id": 7, "n": 2}]  # NULLs sort low
    by_id = engine.query("SELECT o.objectId, t.band FROM sky.Object AS o JOIN TAP_UPLOAD.t AS t "
                         "ON o.objectId = t.id ORDER BY o.objectId", uploads={"t": upload})
    assert by_id.to_pylist() == [{"objectId": 5, "band": "g"}, {"objectId": 7, "band": "r"},
                                 {"objectId": 11, "band": "x"}]
    subquery = engine.query("SELECT objectId FROM sky.Object WHERE objectId IN (SELECT id FROM TAP_UPLOAD.t) "
                            "ORDER BY objectId", uploads={"t": upload})
    assert subquery.column("objectId").to_pylist() == [5, 7, 11]


def test_upload_values_round_trip_through_workers(engine):
    when = datetime.datetime(2026, 11, 21, 10, 30, 15, 123456)
    upload = pa.table({
        "id": pa.array([1, 2, 3], pa.int64()),
        "text": ["it's", None, "naïve \\ back"],
        "flag": pa.array([True, None, False]),
        "x": pa.array([1.5, float("nan"), None], pa.float64()),
        "small": pa.array([-3, None, 7], pa.int16()),
        "seen": pa.array([when, None, when], pa.timestamp("us")),
    })
    result = engine.query("SELECT o.objectId, t.text, t.flag, t.x, t.small, t.seen FROM sky.Object AS o "
                          "JOIN TAP_UPLOAD.t AS t ON o.objectId = t.id ORDER BY o.objectId",
                          uploads={"t": upload})
    rows = result.to_pylist()
    assert [r["text"] for r in rows] == ["it's", None, "naïve \\ back"]
    assert [r["flag"] for r in rows] == [True, None, False]
    assert rows[0]["x"] == 1.5 and np.isnan(rows[1]["x"]) and rows[2]["x"] is None
    assert [r["small"] for r in rows] == [-3, None, 7]
    assert [r["seen"] for r in rows] == [when, None, when]
    assert result.schema.field("small").type == pa.int16()


def test_result_columns_carry_their_declarations(engine):
    result = engine.query("SELECT TOP 2 o.ra, decl AS d, name, mag * 2 AS m2 FROM sky.Object AS o")
    ra, decl, name, doubled = (column_of_field(field) for field in result.schema)
    assert (ra.name, ra.unit, ra.ucd) == ("ra", "deg", "pos.eq.ra")
    assert decl.name == "decl" and (name.datatype, name.length) == ("char", 8) and doubled is None
    star = engine.query("SELECT TOP 1 * FROM sky.Object")
    assert [column_of_field(f).name for f in star.schema] == [c.name for c in OBJECT_COLUMNS]


def test_max_rows_caps_the_answer(engine):
    assert engine.query("SELECT objectId FROM sky.Object", max_rows=7).num_rows == 7
    assert engine.query("SELECT TOP 3 objectId FROM sky.Object", max_rows=7).num_rows == 3
    ordered = engine.query("SELECT objectId FROM sky.Object ORDER BY objectId DESC", max_rows=2)
    assert ordered.column("objectId").to_pylist() == [29999, 29998]


def test_bad_uploads_are_user_errors(engine):
    bad = pa.table({"ra_deg": [10.0, 500.0], "dec_deg": [0.0, 95.0]})
    with pytest.raises(UserError, match=r"TAP_UPLOAD.bad, row 2: position"):
        engine.query("SELECT o.objectId FROM TAP_UPLOAD.bad AS u, sky.Object AS o "
                     "WHERE DISTANCE(POINT(u.ra_deg, u.dec_deg), POINT(o.ra, o.decl)) < 0.01",
                     uploads={"bad": bad})
    with pytest.raises(UserError, match="unknown table"):
        engine.query("SELECT * FROM TAP_UPLOAD.missing", uploads={"bad": bad})
    with pytest.raises(UserError, match="reserved"):
        engine.create_database("tap_upload")
