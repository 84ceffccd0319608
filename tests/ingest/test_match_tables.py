"""Match tables (Qserv's RefDeepSrcMatch): each row stored in the chunks of both directors' rows,
the largest distance between matched rows recorded (astropy), joins director1 - match - director2
and match - director2 equal to the joins of all rows (pandas), each pair once; bad keys refused."""

import healpy
import numpy as np
import pyarrow as pa
import pytest
from astropy import units
from astropy.coordinates import SkyCoord

from qserv.errors import InputError, UnsupportedQueryError, UserError
from qserv.meta.admin import TableSpec
from qserv.meta.catalog import get_table
from qserv.schema.columns import Column

CHUNK_ORDER, OVERLAP_ARCSEC = 3, 60.0


def _directors(rng, n, first_id, near=None, max_arcsec=0.0):
    """``n`` rows on the edges of the order-3 pixels, or each within ``max_arcsec`` of a row of ``near``."""
    if near is None:
        pixels = rng.integers(0, 12 * 4 ** CHUNK_ORDER, n)
        vectors = np.concatenate([healpy.boundaries(2 ** CHUNK_ORDER, int(p), step=4, nest=True).T for p in pixels])
        theta, phi = healpy.vec2ang(vectors[rng.choice(len(vectors), n, replace=False)])
        ra, dec = np.degrees(phi) % 360.0, 90.0 - np.degrees(theta)
    else:
        moved = SkyCoord(near["ra"].to_numpy()[:n] * units.deg, near["dec"].to_numpy()[:n] * units.deg)
        moved = moved.directional_offset_by(rng.uniform(0, 360, n) * units.deg,
                                            rng.uniform(0, max_arcsec, n) * units.arcsec)
        ra, dec = moved.ra.deg % 360.0, moved.dec.deg
    return pa.table({"id": pa.array(np.arange(first_id, first_id + n), pa.int64()), "ra": pa.array(ra),
                     "dec": pa.array(dec)})


def _chunk(table):
    return healpy.ang2pix(2 ** CHUNK_ORDER, table["ra"].to_numpy(), table["dec"].to_numpy(), nest=True, lonlat=True)


def _setup(engine, database, max_arcsec, seed):
    rng = np.random.default_rng(seed)
    first = _directors(rng, 300, 1)
    second = _directors(rng, 250, 10_000, near=first, max_arcsec=max_arcsec)
    pairs = pa.table({"aId": pa.array(list(range(1, 251)) + [260, 261, None], pa.int64()),
                      "bId": pa.array(list(range(10_000, 10_250)) + [None, None, 10_003], pa.int64())})
    engine.create_database(database, chunk_order=CHUNK_ORDER, subchunk_order=5, overlap_arcsec=OVERLAP_ARCSEC)
    position = [Column("ra", "double", nullable=False), Column("dec", "double", nullable=False)]
    for name in ("A", "B"):
        engine.create_table(f"{database}.{name}", TableSpec(
            kind="director", columns=[Column("id", "long", nullable=False), *position],
            id_column="id", ra_column="ra", dec_column="dec"))
    engine.create_table(f"{database}.M", TableSpec(
        kind="match", columns=[Column("aId", "long"), Column("bId", "long")],
        director=f"{database}.A", director_key="aId", director2=f"{database}.B", director2_key="bId"))
    engine.ingest(f"{database}.A", [first])
    engine.ingest(f"{database}.B", [second])
    engine.ingest(f"{database}.M", [pairs])
    return first, second, pairs


def _expected(first, second, pairs, both=True):
    joined = pairs.to_pandas().merge(second.to_pandas(), left_on="bId", right_on="id")
    if both:
        joined = joined.merge(first.to_pandas(), left_on="aId", right_on="id", suffixes=("", "_a"))
    return sorted(zip(_ids(joined.aId), _ids(joined.bId)))


def _pairs(found):
    return sorted(zip(*(_ids(found[name].to_pylist()) for name in ("aId", "bId"))))


def _ids(values):
    """Ids as ints, -1 for NULL (or NaN, as pandas merges show it)."""
    return [-1 if value is None or value != value else int(value) for value in values]


def test_match_rows_join_both_directors_exactly(engine, database_name):
    first, second, pairs = _setup(engine, database_name, 40.0, 3)
    matched = pairs.slice(0, 250)
    a, b = first.slice(0, 250), second
    crossing = _chunk(a) != _chunk(b)
    assert crossing.sum() > 10
    largest = SkyCoord(a["ra"].to_numpy() * units.deg, a["dec"].to_numpy() * units.deg).separation(
        SkyCoord(b["ra"].to_numpy() * units.deg, b["dec"].to_numpy() * units.deg)).arcsec.max()
    with engine.store.session() as session:
        assert get_table(session, database_name, "M").director_distance_arcsec == pytest.approx(largest, abs=1e-6)
    stored = engine.read_table(f"{database_name}.M", include_overlap=True)
    assert stored.num_rows == pairs.num_rows + crossing.sum()  # a second copy where the chunks differ
    db = database_name
    three = engine.query(f"SELECT m.aId, b.id AS bId FROM {db}.A a JOIN {db}.M m ON m.aId = a.id "
                         f"JOIN {db}.B b ON b.id = m.bId")
    assert _pairs(three) == _expected(first, second, matched) and three.num_rows == 250
    two = engine.query(f"SELECT m.aId, m.bId FROM {db}.M m JOIN {db}.B b ON m.bId = b.id")
    assert _pairs(two) == _expected(first, second, pairs, both=False) and two.num_rows == 251
    first_side = engine.query(f"SELECT m.aId, m.bId FROM {db}.A a JOIN {db}.M m ON a.id = m.aId")
    assert _pairs(first_side) == sorted(pair for pair in _pairs(pairs) if pair[0] >= 0)
    assert engine.query(f"SELECT COUNT(*) AS n FROM {db}.M")["n"][0].as_py() == pairs.num_rows
    assert engine.query(f"SELECT COUNT(*) AS n FROM {db}.M WHERE aId > 0")["n"][0].as_py() == 252


def test_matches_farther_than_the_overlap_and_bad_keys_are_refused(engine, database_name):
    first, second, pairs = _setup(engine, database_name, 3 * OVERLAP_ARCSEC, 4)
    db = database_name
    with pytest.raises(UnsupportedQueryError, match=rf"{db}.A and {db}.B through the match table {db}.M .*"
                                                    r"not within the overlap \(60 arcsec\)"):
        engine.query(f"SELECT m.aId FROM {db}.A a JOIN {db}.M m ON m.aId = a.id JOIN {db}.B b ON b.id = m.bId")
    two = engine.query(f"SELECT m.aId, m.bId FROM {db}.M m JOIN {db}.B b ON m.bId = b.id")  # needs no bound
    assert _pairs(two) == _expected(first, second, pairs, both=False)
    with pytest.raises(InputError, match=r"1 row\(s\) of M reference B.id values that do not exist: 99999 \(row 2\)"):
        engine.ingest(f"{db}.M", [pa.table({"aId": pa.array([1, 2], pa.int64()), "bId": pa.array([10_001, 99_999], pa.int64())})])
    with pytest.raises(InputError, match=r"NULL for both aId and bId: rows 1"):
        engine.ingest(f"{db}.M", [pa.table({"aId": pa.array([None], pa.int64()), "bId": pa.array([None], pa.int64())})])
    assert engine.query(f"SELECT COUNT(*) AS n FROM {db}.M")["n"][0].as_py() == pairs.num_rows


@pytest.mark.parametrize("options, message", [
    ({"director2": None}, "kind match needs --director DB.TABLE and --director2 DB.TABLE"),
    ({"director2": "other.B"}, "must be in the same database"),
    ({"director2_key": "nope"}, "--director2-key names 'nope', which is not a column"),
    ({"director2": "{db}.M0"}, "is a match table, not a director"),
    ({"ra_column": "aId", "dec_column": "bId"}, "--ra does not apply to kind match"),
])
def test_match_table_options_are_checked(engine, database_name, options, message):
    db = database_name
    engine.create_database(db, chunk_order=CHUNK_ORDER, subchunk_order=5, overlap_arcsec=OVERLAP_ARCSEC)
    for name in ("A", "B"):
        engine.create_table(f"{db}.{name}", TableSpec(
            kind="director", columns=[Column("id", "long"), Column("ra", "double"), Column("dec", "double")],
            id_column="id", ra_column="ra", dec_column="dec"))
    columns = [Column("aId", "long"), Column("bId", "long")]
    base = dict(kind="match", columns=columns, director=f"{db}.A", director_key="aId", director2=f"{db}.B",
                director2_key="bId")
    engine.create_table(f"{db}.M0", TableSpec(**base))
    spec = TableSpec(**{**base, **{key: value.format(db=db) if isinstance(value, str) else value
                                   for key, value in options.items()}})
    with pytest.raises(UserError, match=message):
        engine.create_table(f"{db}.M", spec)
