"""Source-to-object matching (payloads/apdb/association.py) against the brute force of the benchmark
(every pair in a declination band, astropy separations, one pair at a time) and against all pairs by
astropy: random crowded fields, RA wrap, the poles, exact ties and the radius edge."""

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord

from bench.apdb_bench import brute_force_matches
from qserv.payloads.apdb.association import candidate_pairs, match_sources


def scatter(rng, count, ra, dec, spread_arcsec):
    """Points around (ra, dec) within spread_arcsec on the sky (wrapped into RA [0, 360))."""
    offsets = rng.uniform(-1, 1, size=(count, 2)) * spread_arcsec / 3600.0
    dec_values = np.clip(dec + offsets[:, 1], -90, 90)
    ra_values = (ra + offsets[:, 0] / max(np.cos(np.radians(dec)), 1e-3)) % 360.0
    return ra_values, dec_values


def check_against_brute_force(source_ra, source_dec, object_ra, object_dec, radius_arcsec=1.0, seed=0):
    rng = np.random.default_rng(seed)
    source_ids = rng.permutation(10 * len(source_ra))[: len(source_ra)] + 1
    object_ids = rng.permutation(10 * len(object_ra))[: len(object_ra)] + 1
    matches = match_sources(source_ids, source_ra, source_dec, object_ids, object_ra, object_dec, radius_arcsec)
    expected = brute_force_matches(source_ids, source_ra, source_dec, object_ids, object_ra, object_dec,
                                   radius_arcsec)
    got = dict(zip(source_ids[matches.source_index].tolist(), object_ids[matches.object_index].tolist()))
    assert got == expected
    unmatched = set(source_ids[matches.unmatched_source_index].tolist())
    assert unmatched == set(source_ids.tolist()) - set(expected)
    return matches


@pytest.mark.parametrize("ra, dec", [(150.0, -30.0), (0.0002, 10.0), (359.9999, -45.0), (45.0, 89.9997),
                                     (200.0, -89.9996)])
def test_crowded_fields_match_brute_force(ra, dec):
    rng = np.random.default_rng(int(ra * 1000) % 1000)
    source_ra, source_dec = scatter(rng, 250, ra, dec, 8.0)
    object_ra, object_dec = scatter(rng, 250, ra, dec, 8.0)
    matches = check_against_brute_force(source_ra, source_dec, object_ra, object_dec, seed=int(abs(dec)))
    assert 20 < len(matches.source_index) < 250  # contested: several sources near one object
    assert (matches.separation_arcsec <= 1.0).all()


def test_candidate_pairs_are_all_pairs_within_the_radius():
    rng = np.random.default_rng(3)
    source_ra, source_dec = scatter(rng, 300, 0.0, 60.0, 20.0)
    object_ra, object_dec = scatter(rng, 400, 0.0, 60.0, 20.0)
    radius_arcsec = 2.5
    i, j, separation_deg = candidate_pairs(source_ra, source_dec, object_ra, object_dec, radius_arcsec / 3600)
    truth = SkyCoord(source_ra[:, None] * u.deg, source_dec[:, None] * u.deg).separation(
        SkyCoord(object_ra[None, :] * u.deg, object_dec[None, :] * u.deg)).arcsec
    assert set(zip(i.tolist(), j.tolist())) == set(zip(*(a.tolist() for a in np.nonzero(truth <= radius_arcsec))))
    assert np.allclose(separation_deg * 3600, truth[i, j], rtol=0, atol=1e-9)


def test_radius_edge():
    radius_arcsec = 1.0
    step = radius_arcsec / 3600
    object_dec = np.array([step * (1 - 1e-7), -step * (1 + 1e-7), 3 * step])
    matches = match_sources([1, 2], [10.0, 10.0], [0.0, 3 * step - step * (1 + 1e-7)],
                            [11, 12, 13], [10.0, 10.0, 10.0], object_dec, radius_arcsec)
    assert matches.source_index.tolist() == [0] and matches.object_index.tolist() == [0]
    assert matches.unmatched_source_index.tolist() == [1]


def test_ties_go_to_the_smaller_source_id_then_object_id():
    offset = 2.0 ** -13  # exactly representable: mirror images have bitwise equal separations
    # One source between two objects at equal distance: the smaller object id wins.
    matches = match_sources([5], [10.0], [0.0], [9, 7], [10.0 + offset, 10.0 - offset], [0.0, 0.0], 1.0)
    assert matches.object_index.tolist() == [1]
    # Two sources at equal distance from one object: the smaller source id gets it, the other none.
    matches = match_sources([8, 6], [10.0 + offset, 10.0 - offset], [0.0, 0.0], [3], [10.0], [0.0], 1.0)
    assert matches.source_index.tolist() == [1] and matches.unmatched_source_index.tolist() == [0]
    check_against_brute_force(np.array([10.0 + offset, 10.0 - offset, 10.0]), np.array([0.0, 0.0, offset]),
                              np.array([10.0, 10.0 + offset, 10.0 - offset]), np.array([0.0, offset, offset]))


def test_a_source_loses_its_nearest_object_to_a_nearer_source_and_takes_the_next():
    step = 0.3 / 3600
    matches = match_sources([1, 2], [10.0, 10.0], [0.0, step], [100, 200], [10.0, 10.0], [1.5 * step, -step], 1.0)
    assert dict(zip(matches.source_index.tolist(), matches.object_index.tolist())) == {1: 0, 0: 1}


def test_empty_inputs_and_bad_radius():
    assert len(match_sources([], [], [], [1], [1.0], [1.0]).source_index) == 0
    assert match_sources([1], [1.0], [1.0], [], [], []).unmatched_source_index.tolist() == [0]
    with pytest.raises(ValueError, match="positive"):
        match_sources([1], [1.0], [1.0], [2], [1.0], [1.0], radius_arcsec=0)
