import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qserv.errors import InvalidCoordinatesError, InvalidRegionError
from qserv.sphere.angles import unit_vectors, vector_separation_rad
from qserv.sphere.box import Box


def brute_force_inside(box, ra, dec):
    """Plain RA/Dec comparisons: RA (or RA shifted by a turn) between ra_min and the unwrapped
    ra_max; a pole belongs to every meridian."""
    upper = box.ra_max_deg if box.ra_max_deg >= box.ra_min_deg else box.ra_max_deg + 360.0
    in_ra = np.zeros(ra.shape, dtype=bool)
    for turn in (-360.0, 0.0, 360.0):
        in_ra |= (ra + turn >= box.ra_min_deg) & (ra + turn <= upper)
    in_ra |= box.ra_max_deg - box.ra_min_deg == 360.0
    in_dec = (dec >= box.dec_min_deg) & (dec <= box.dec_max_deg)
    return in_dec & (in_ra | (np.abs(dec) == 90.0))


def near_edges(rng, box, count):
    """Positions on and just beside the sides, corners and poles."""
    ra = rng.choice([box.ra_min_deg, box.ra_max_deg], count) + rng.choice([0.0, 1e-9, -1e-9], count)
    dec = rng.choice([box.dec_min_deg, box.dec_max_deg, 90.0, -90.0], count) + rng.choice(
        [0.0, 1e-9, -1e-9], count)
    return np.clip(ra, 0.0, 360.0), np.clip(dec, -90.0, 90.0)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_reference_matches_plain_ra_dec_comparisons(sky, data, seed):
    box = data.draw(sky.boxes())
    rng = np.random.default_rng(seed)
    pieces = [sky.box_points(rng, box, 500), sky.uniform_points(rng, 500), near_edges(rng, box, 200)]
    ra, dec = (np.concatenate(parts) for parts in zip(*pieces))
    assert np.array_equal(box.contains_reference(ra, dec), brute_force_inside(box, ra, dec))


@pytest.mark.parametrize(
    "box, inside, outside",
    [
        (Box(350.0, -10.0, 10.0, 10.0), [(0.0, 0.0), (360.0, 0.0), (355.0, 10.0), (10.0, -10.0)],
         [(11.0, 0.0), (349.0, 0.0), (180.0, 0.0), (0.0, 10.5)]),
        (Box(0.0, 80.0, 360.0, 90.0), [(0.0, 85.0), (200.0, 80.0), (17.0, 90.0)], [(0.0, 79.9)]),
        (Box(100.0, 60.0, 120.0, 90.0), [(110.0, 70.0), (300.0, 90.0), (0.0, 90.0)],
         [(130.0, 89.99), (110.0, -90.0)]),
        (Box(0.0, -90.0, 360.0, 90.0), [(0.0, -90.0), (360.0, 0.0), (180.0, 45.0)], []),
        (Box(20.0, 5.0, 20.0, 5.0), [(20.0, 5.0)], [(20.0, 5.000001), (20.000001, 5.0)]),
        (Box(340.0, -1.0, 360.0, 1.0), [(0.0, 0.0), (360.0, 1.0), (340.0, -1.0)], [(0.1, 0.0)]),
    ],
)
def test_known_boxes(box, inside, outside):
    for points, expected in ((inside, True), (outside, False)):
        if points:
            ra, dec = np.array(points, dtype=float).T
            assert (box.contains(ra, dec) == expected).all(), (box, points)


@pytest.mark.parametrize(
    "centre_and_size, bounds",
    [
        ((25.4, -20.0, 10.0, 10.0), (20.4, -25.0, 30.4, -15.0)),
        ((5.0, 0.0, 20.0, 2.0), (355.0, -1.0, 15.0, 1.0)),
        ((200.0, 85.0, 10.0, 20.0), (195.0, 75.0, 205.0, 90.0)),
        ((200.0, -30.0, 360.0, 180.0), (0.0, -90.0, 360.0, 60.0)),
    ],
)
def test_from_centre_spans_half_width_and_height_each_side(centre_and_size, bounds):
    box = Box.from_centre(*centre_and_size)
    got = (box.ra_min_deg, box.dec_min_deg, box.ra_max_deg, box.dec_max_deg)
    assert np.allclose(got, bounds, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "args, message",
    [
        ((10.0, 20.0, 30.0, 10.0), r"box dec_min_deg \(20.0\) is greater than dec_max_deg \(10.0\)"),
        ((-1.0, 0.0, 10.0, 1.0), r"box ra_min_deg must be in \[0, 360\], got -1.0"),
        ((0.0, 0.0, 360.5, 1.0), r"box ra_max_deg must be in \[0, 360\], got 360.5"),
        ((0.0, -91.0, 10.0, 1.0), r"box dec_min_deg must be in \[-90, 90\], got -91.0"),
        ((0.0, 0.0, 10.0, float("nan")), "box dec_max_deg must be finite, got nan"),
        ((0.0, 0.0, "east", 1.0), "box ra_max_deg must be a number, got 'east'"),
    ],
)
def test_invalid_boxes_are_refused(args, message):
    with pytest.raises(InvalidRegionError, match=message):
        Box(*args)


@pytest.mark.parametrize(
    "args, error, message",
    [
        ((10.0, 0.0, -1.0, 1.0), InvalidRegionError, r"box width_deg must be in \[0, 360\], got -1.0"),
        ((10.0, 0.0, 1.0, 181.0), InvalidRegionError, r"box height_deg must be in \[0, 180\]"),
        ((10.0, 95.0, 1.0, 1.0), InvalidCoordinatesError, "invalid box centre at index 0"),
    ],
)
def test_invalid_adql_boxes_are_refused(args, error, message):
    with pytest.raises(error, match=message):
        Box.from_centre(*args)


def boundary_samples(box, per_side):
    """(points on the box's sides, the largest gap between neighbours along a side in rad)."""
    width = 360.0 if box.full_ra else (box.ra_max_deg - box.ra_min_deg) % 360.0
    steps = np.linspace(0.0, 1.0, per_side)
    ra_along = box.ra_min_deg + width * steps
    dec_along = box.dec_min_deg + (box.dec_max_deg - box.dec_min_deg) * steps
    ra = [ra_along, ra_along, np.full(per_side, box.ra_min_deg), np.full(per_side, box.ra_max_deg)]
    dec = [np.full(per_side, box.dec_min_deg), np.full(per_side, box.dec_max_deg), dec_along, dec_along]
    gap_rad = np.radians(max(width, box.dec_max_deg - box.dec_min_deg)) / (per_side - 1)
    return unit_vectors(np.concatenate(ra) % 360.0, np.concatenate(dec)), gap_rad


@settings(max_examples=80, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1))
def test_distance_is_exact_so_the_cap_test_is_conservative_and_tight(sky, data, seed):
    box = data.draw(sky.boxes())
    rng = np.random.default_rng(seed)
    cap_ra, cap_dec = sky.uniform_points(rng, 100)
    centres = unit_vectors(cap_ra, cap_dec)
    samples, gap_rad = boundary_samples(box, 2001)
    sampled = vector_separation_rad(centres[:, None, :], samples[None, :, :]).min(axis=1)
    inside = box.contains_reference(cap_ra, cap_dec)
    sampled[inside] = 0.0
    distance = box.distance_rad(centres)
    assert (distance[inside] == 0.0).all()
    # The sampled distance overestimates by at most half a gap.
    assert (distance <= sampled + 1e-12).all()
    assert (distance >= sampled - 0.5 * gap_rad - 1e-12).all()
    assert box.cap_may_intersect(centres, sampled + 1e-12).all()
    clear = sampled > 0.5 * gap_rad + 1e-9
    assert not box.cap_may_intersect(centres[clear], sampled[clear] - 0.5 * gap_rad - 1e-9).any()


def test_repr_rebuilds_the_box():
    box = Box(350.0, -10.0, 10.0, 10.0)
    rebuilt = eval(repr(box), {"Box": Box})
    assert repr(rebuilt) == repr(box) == (
        "Box(ra_min_deg=350.0, dec_min_deg=-10.0, ra_max_deg=10.0, dec_max_deg=10.0)")
