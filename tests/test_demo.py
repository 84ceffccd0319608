"""`qserv demo` (make demo) runs end to end on the bundled catalogs."""

from pathlib import Path

import numpy as np

import qserv
from qserv.demo import EPOCH_GAP_YR, QUERIES, load, run_demo
from qserv.instance import init_instance
from qserv.sphere.angles import angular_separation_deg


def test_demo_runs_every_query(tmp_path):
    lines = []
    run_demo(tmp_path / "home", echo=lines.append)
    lines = "\n".join(lines).splitlines()
    results = [line for line in lines if line.lstrip().startswith("->") and "rows in" in line]
    assert len(results) == len(QUERIES)
    assert any("loaded demo.gaia: 482,176 rows" in line for line in lines)
    assert any(line.startswith("the instance stays in") for line in lines)  # a home given: kept


def test_demo_says_its_temporary_instance_is_deleted():
    lines = []
    run_demo(None, echo=lines.append)
    first, last = lines[0], lines[-1]
    scratch = first.split()[1].rstrip(":")
    assert "deleted at the end" in first and "--keep" in first
    assert last.strip() == f"deleted the temporary instance {scratch} (`qserv demo --keep` keeps one)"
    assert not Path(scratch).exists()


def test_negative_source_ids_are_hipparcos_stars_and_proper_motion_closes_the_epoch_gap(tmp_path):
    init_instance(tmp_path / "home", workers=2)
    with qserv.open(tmp_path / "home") as engine:
        load(engine, echo=lambda _: None)
        title, lang, text = next(q for q in QUERIES if "sep_j2016_arcsec" in q[2])
        matches = engine.query(text, lang=lang)
        assert "J1991.25" in title and "J2016.0" in title
        before = np.array(matches.column("sep_arcsec").to_pylist())
        after = np.array(matches.column("sep_j2016_arcsec").to_pylist())
        assert len(before) == 10 and np.median(before) > 1.0 and np.median(after) < 0.1
        # Every negative source_id is -HIP of a Hipparcos star at the same J2016 position.
        negative = engine.query("SELECT source_id, ra, dec FROM demo.gaia WHERE source_id < 0")
        hip = {row["hip"]: row for row in engine.query("SELECT hip, ra, dec, pmra, pmdec FROM demo.hipparcos").to_pylist()}
    assert negative.num_rows == 70
    stars = [hip[-source_id] for source_id in negative.column("source_id").to_pylist()]
    ra, dec, pmra, pmdec = (np.array([star[name] for star in stars]) for name in ("ra", "dec", "pmra", "pmdec"))
    moved_ra = ra + pmra * EPOCH_GAP_YR / 3.6e6 / np.cos(np.radians(dec))
    moved_dec = dec + pmdec * EPOCH_GAP_YR / 3.6e6
    separation = angular_separation_deg(moved_ra, moved_dec, negative.column("ra").to_numpy(),
                                        negative.column("dec").to_numpy()) * 3600
    assert np.median(separation) < 0.001 and np.max(separation) < 2.0  # Polaris (HIP 11767) kept J1991.25
