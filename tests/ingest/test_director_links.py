"""Children placed near their director (DiaSource around DiaObject) and by their director's position
(Source with raObject/declObject): the distance recorded at ingest is the brute-force largest one
(astropy), director-key joins answer what a join of all rows answers (pandas), each pair once,
with children across chunk edges from their directors; mismatches and loose bounds are refused."""

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

CHUNK_ORDER, SUBCHUNK_ORDER, OVERLAP_ARCSEC = 3, 5, 60.0


def _objects(rng, n, first_id=1):
    """Directors on (or within 20" of) the edges of the order-3 pixels, where children cross them."""
    pixels = rng.integers(0, 12 * 4 ** CHUNK_ORDER, n)
    vectors = np.concatenate([healpy.boundaries(2 ** CHUNK_ORDER, int(p), step=4, nest=True).T for p in pixels])
    picked = vectors[rng.choice(len(vectors), n, replace=False)]
    theta, phi = healpy.vec2ang(picked)
    ra, dec = _offset(rng, np.degrees(phi) % 360.0, 90.0 - np.degrees(theta), 20.0)
    return pa.table({"id": pa.array(np.arange(first_id, first_id + n), pa.int64()),
                     "ra": pa.array(ra), "dec": pa.array(dec)})


def _offset(rng, ra, dec, max_arcsec):
    """Each position moved by up to ``max_arcsec`` in a random direction."""
    start = SkyCoord(ra * units.deg, dec * units.deg)
    moved = start.directional_offset_by(rng.uniform(0, 360, len(ra)) * units.deg,
                                        rng.uniform(0, max_arcsec, len(ra)) * units.arcsec)
    return moved.ra.deg % 360.0, np.clip(moved.dec.deg, -90.0, 90.0)


def _children(rng, objects, per_object, max_arcsec, first_id=1):
    parents = np.repeat(np.arange(objects.num_rows), per_object)
    ra, dec = _offset(rng, objects["ra"].to_numpy()[parents], objects["dec"].to_numpy()[parents], max_arcsec)
    return pa.table({"childId": pa.array(np.arange(first_id, first_id + len(parents)), pa.int64()),
                     "objId": objects["id"].take(pa.array(parents)), "ra": pa.array(ra), "dec": pa.array(dec)})


def _largest_distance_arcsec(children, objects):
    pairs = children.to_pandas().merge(objects.to_pandas(), left_on="objId", right_on="id", suffixes=("", "_o"))
    columns = (pairs[name].to_numpy() * units.deg for name in ("ra", "dec", "ra_o", "dec_o"))
    ra, dec, ra_o, dec_o = columns
    return SkyCoord(ra, dec).separation(SkyCoord(ra_o, dec_o)).arcsec.max()


def _create(engine, database, child_kind="near", non_unique=False):
    engine.create_database(database, chunk_order=CHUNK_ORDER, subchunk_order=SUBCHUNK_ORDER,
                           overlap_arcsec=OVERLAP_ARCSEC)
    position = [Column("ra", "double", nullable=False), Column("dec", "double", nullable=False)]
    engine.create_table(f"{database}.Obj", TableSpec(
        kind="director", columns=[Column("id", "long", nullable=False), *position],
        id_column="id", ra_column="ra", dec_column="dec", non_unique=non_unique))
    engine.create_table(f"{database}.Child", TableSpec(
        kind="child", columns=[Column("childId", "long", nullable=False), Column("objId", "long"), *position],
        director=f"{database}.Obj", director_key="objId", ra_column="ra", dec_column="dec",
        director_position=child_kind == "position"))


def _chunks(table, ids):
    """The order-3 chunk of the rows of ``table`` with the first column in ``ids`` (in that order)."""
    rows = table.to_pandas().set_index(table.column_names[0]).loc[ids.to_numpy()]
    return healpy.ang2pix(2 ** CHUNK_ORDER, rows.ra.to_numpy(), rows.dec.to_numpy(), nest=True, lonlat=True)


def _recorded_arcsec(engine, database):
    with engine.store.session() as session:
        return get_table(session, database, "Child").director_distance_arcsec


def _joined(engine, database, where=""):
    found = engine.query(f"SELECT c.childId, o.id, c.ra, o.dec FROM {database}.Child AS c "
                         f"JOIN {database}.Obj AS o ON c.objId = o.id {where}").to_pandas()
    return found.sort_values("childId").reset_index(drop=True)


def _expected(children, objects, keep=None):
    pairs = children.to_pandas().merge(objects.to_pandas(), left_on="objId", right_on="id", suffixes=("", "_o"))
    if keep is not None:
        pairs = pairs[keep(pairs)]
    pairs = pairs[["childId", "id", "ra", "dec_o"]].rename(columns={"dec_o": "dec"})
    return pairs.sort_values("childId").reset_index(drop=True)


def test_near_children_join_their_directors_exactly(engine, database_name):
    rng = np.random.default_rng(5)
    objects = _objects(rng, 300)
    later = _objects(rng, 40, first_id=10_000)  # ingested after their children
    children = _children(rng, objects, 3, 45.0)
    early = _children(rng, later, 2, 45.0, first_id=50_000)
    unassociated = pa.table({"childId": pa.array([90_000, 90_001], pa.int64()), "objId": pa.array([None, 7_777_777], pa.int64()),
                             "ra": pa.array([10.0, 20.0]), "dec": pa.array([0.0, 1.0])})
    _create(engine, database_name)
    engine.ingest(f"{database_name}.Obj", [objects])
    assert _recorded_arcsec(engine, database_name) == 0.0
    engine.ingest(f"{database_name}.Child", [children, early, unassociated])
    assert _recorded_arcsec(engine, database_name) == pytest.approx(_largest_distance_arcsec(children, objects), abs=1e-6)
    engine.ingest(f"{database_name}.Obj", [later])
    everything = pa.concat_tables([objects, later])
    all_children = pa.concat_tables([children, early, unassociated])
    assert _recorded_arcsec(engine, database_name) == pytest.approx(
        _largest_distance_arcsec(all_children, everything), abs=1e-6)
    crossing = _expected(all_children, everything)
    assert len(crossing) == len(children) + len(early)  # every pair once
    assert (_chunks(all_children, crossing.childId) != _chunks(everything, crossing.id)).sum() > 20
    found = _joined(engine, database_name)
    assert found[["childId", "id"]].equals(crossing[["childId", "id"]])
    assert np.allclose(found.dec, crossing.dec)
    region = _joined(engine, database_name, "WHERE CONTAINS(POINT('ICRS', c.ra, c.dec), CIRCLE('ICRS', 45, 20, 30)) = 1")
    inside = SkyCoord(all_children["ra"].to_numpy() * units.deg, all_children["dec"].to_numpy() * units.deg).separation(
        SkyCoord(45 * units.deg, 20 * units.deg)).deg < 30
    expected = _expected(all_children.filter(pa.array(inside)), everything)
    assert len(expected) > 20
    assert region[["childId", "id"]].equals(expected[["childId", "id"]])


def test_children_farther_than_the_overlap_are_refused(engine, database_name):
    rng = np.random.default_rng(6)
    objects = _objects(rng, 50)
    children = _children(rng, objects, 2, 3 * OVERLAP_ARCSEC)
    _create(engine, database_name)
    engine.ingest(f"{database_name}.Obj", [objects])
    engine.ingest(f"{database_name}.Child", [children])
    largest = _largest_distance_arcsec(children, objects)
    assert largest > OVERLAP_ARCSEC
    with pytest.raises(UnsupportedQueryError) as error:
        _joined(engine, database_name)
    message = str(error.value)
    assert f"{database_name}.Child" in message and f"{database_name}.Obj" in message
    assert f"{largest:g}"[:5] in message and "60 arcsec" in message


def _with_director_position(children, objects):
    """Children whose ra/dec are their director's (raObject/declObject), unknown directors kept."""
    lookup = {row["id"]: (row["ra"], row["dec"]) for row in objects.to_pylist()}
    positions = [lookup.get(key, (ra, dec)) for key, ra, dec in
                 zip(children["objId"].to_pylist(), children["ra"].to_pylist(), children["dec"].to_pylist())]
    return children.set_column(2, "ra", pa.array([p[0] for p in positions])).set_column(
        3, "dec", pa.array([p[1] for p in positions]))


def test_children_at_their_directors_position(engine, database_name):
    rng = np.random.default_rng(7)
    objects = _objects(rng, 200)
    later = _objects(rng, 30, first_id=10_000)
    children = _with_director_position(_children(rng, objects, 2, 10.0), objects)
    early = _with_director_position(_children(rng, later, 2, 10.0, first_id=50_000), later)
    orphans = _children(rng, _objects(rng, 10, first_id=20_000), 1, 10.0, first_id=80_000)  # no director ever
    _create(engine, database_name, "position")
    engine.ingest(f"{database_name}.Obj", [objects])
    engine.ingest(f"{database_name}.Child", [children, early, orphans])
    engine.ingest(f"{database_name}.Obj", [later])
    everything = pa.concat_tables([objects, later])
    all_children = pa.concat_tables([children, early, orphans])
    found = _joined(engine, database_name)
    expected = _expected(all_children, everything)
    assert len(expected) == len(children) + len(early)
    assert found[["childId", "id"]].equals(expected[["childId", "id"]])
    assert engine.query(f"SELECT COUNT(*) AS n FROM {database_name}.Child")["n"][0].as_py() == all_children.num_rows
    assert engine.query(f"SELECT childId FROM {database_name}.Child WHERE objId = 20001")["childId"].to_pylist() == [80_001]


def test_a_child_away_from_its_director_is_refused(engine, database_name):
    rng = np.random.default_rng(8)
    objects = _objects(rng, 100)
    children = _children(rng, objects, 1, 10.0)  # own positions near, not at, the director's edge positions
    _create(engine, database_name, "position")
    engine.ingest(f"{database_name}.Obj", [objects])
    placed = _with_director_position(children, objects)
    with pytest.raises(InputError, match=r"not in their director's chunk.*row \d+ \(objId="):
        engine.ingest(f"{database_name}.Child", [placed, children])
    assert engine.query(f"SELECT COUNT(*) AS n FROM {database_name}.Child")["n"][0].as_py() == 0
    later = _objects(rng, 40, first_id=10_000)
    engine.ingest(f"{database_name}.Child", [_children(rng, later, 1, 10.0, first_id=50_000)])
    with pytest.raises(InputError, match=r"stored before their Obj row are not in its chunk"):
        engine.ingest(f"{database_name}.Obj", [later])
    assert engine.query(f"SELECT COUNT(*) AS n FROM {database_name}.Obj")["n"][0].as_py() == objects.num_rows


def test_new_versions_of_a_non_unique_director_widen_the_bound(engine, database_name):
    """A DiaObject's new version (same id, moved) arrives after its DiaSources: the recorded bound
    still covers every child-version pair, and the join pairs each child with every version."""
    rng = np.random.default_rng(9)
    objects = _objects(rng, 150)
    children = _children(rng, objects, 2, 30.0)
    _create(engine, database_name, non_unique=True)
    engine.ingest(f"{database_name}.Obj", [objects])
    engine.ingest(f"{database_name}.Child", [children])
    moved_ra, moved_dec = _offset(rng, objects["ra"].to_numpy(), objects["dec"].to_numpy(), 20.0)
    versions = objects.set_column(1, "ra", pa.array(moved_ra)).set_column(2, "dec", pa.array(moved_dec))
    engine.ingest(f"{database_name}.Obj", [versions])
    everything = pa.concat_tables([objects, versions])
    true_largest = _largest_distance_arcsec(children, everything)
    recorded = _recorded_arcsec(engine, database_name)
    assert true_largest > _largest_distance_arcsec(children, objects)
    assert true_largest <= recorded <= _largest_distance_arcsec(children, objects) + 20.0 + 1e-6
    found = _joined(engine, database_name)
    expected = _expected(children, everything)
    assert len(expected) == 2 * children.num_rows
    assert sorted(zip(found.childId, found.id, found.dec)) == sorted(zip(expected.childId, expected.id, expected.dec))


def test_director_position_needs_a_unique_director(engine, database_name):
    with pytest.raises(UserError, match="--director-position needs a director with unique ids"):
        _create(engine, database_name, "position", non_unique=True)


def test_rows_of_an_aborted_child_transaction_are_not_checked(engine, database_name):
    """Child rows remembered as unmatched in a transaction that was aborted do not hold back (or
    get measured against) the director rows ingested later."""
    rng = np.random.default_rng(10)
    later = _objects(rng, 40, first_id=10_000)
    _create(engine, database_name, "position")
    transaction = engine.transactions.begin(database_name)
    engine.transactions.contribute(transaction, "Child", _children(rng, later, 1, 10.0), key="away")
    engine.transactions.abort(transaction)
    engine.ingest(f"{database_name}.Obj", [later])  # the aborted rows lie away from these: no error
    assert engine.query(f"SELECT COUNT(*) AS n FROM {database_name}.Obj")["n"][0].as_py() == later.num_rows
