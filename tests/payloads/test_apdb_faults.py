"""A process killed in the middle of ``Apdb.store`` leaves the APDB as it was before the store
(readers never see part of a visit), and the store can be retried."""

import os
from pathlib import Path
import subprocess
import sys
import textwrap

from astropy.time import Time
import numpy as np
import pytest

import qserv
from qserv.faults import CRASH_EXIT_CODE, FAULT_ENV
from qserv.payloads.apdb import Apdb
from qserv.sphere import Circle

FIELD = Circle(30.0, -10.0, 0.5)
HERE = Path(__file__).parent

# Stores visit 2 (objects, sources, forced sources); a crash point set in the environment stops it.
SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[2])
    import apdb_data
    import qserv
    from qserv.payloads.apdb import Apdb
    with qserv.open(sys.argv[1]) as engine:
        apdb_data.store_visit(Apdb.open(engine, "apdb"), 2)
""")


def snapshot(apdb):
    visit_time = Time(60010.0, format="mjd", scale="tai")
    return (sorted(apdb.get_diaobjects(FIELD)["diaObjectId"].to_pylist()),
            sorted(apdb.get_diasources(FIELD, None, visit_time)["diaSourceId"].to_pylist()),
            sorted(apdb.get_diaforcedsources(FIELD, None, visit_time)["diaObjectId"].to_pylist()),
            apdb.contains_visit_detector(2, 9))


@pytest.mark.parametrize("fault", ["contribution-partly-loaded", "contribution-loaded", "commit-before-state"])
def test_store_killed_midway_leaves_the_previous_state(tmp_path, new_instance, apdb_data, fault):
    home = tmp_path / "home"
    new_instance(home, "duckdb", 2)
    with qserv.open(home) as engine:
        apdb = Apdb.create(engine, "apdb")
        apdb_data.store_visit(apdb, 1)
        before = snapshot(apdb)
    assert len(before[0]) == 200 and not before[3]
    env = dict(os.environ, **{FAULT_ENV: fault})
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(home), str(HERE)], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == CRASH_EXIT_CODE, result.stderr
    with qserv.open(home) as engine:
        apdb = Apdb.open(engine, "apdb")
        assert snapshot(apdb) == before
        assert apdb_data.store_visit(apdb, 2) is not None  # the retry stores the visit once
        after = snapshot(apdb)
    assert len(after[0]) == len(after[1]) == len(after[2]) == 400 and after[3]


# Associates visit 2 of ``association_visit`` (a crash point set in the environment stops it).
ASSOCIATE_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[2])
    import test_apdb_faults
    import qserv
    from qserv.payloads.apdb import Apdb
    with qserv.open(sys.argv[1]) as engine:
        test_apdb_faults.associate(Apdb.open(engine, "apdb"), 2)
""")


def associate(apdb, visit):
    """associate_visit of ``visit`` (detector 4): the same 60 true positions each visit (0.1" noise),
    so visit 2 matches visit 1's objects and writes their new versions."""
    import apdb_data
    from qserv.payloads.apdb.visit import associate_visit

    true = np.random.default_rng(0)
    ra, dec = 30.0 + true.uniform(-0.2, 0.2, 60), -10.0 + true.uniform(-0.2, 0.2, 60)
    noise = np.random.default_rng(visit).normal(0, 0.1 / 3600, (2, 60))
    mjd = 60000.0 + visit
    ids = visit * 1000 + np.arange(60)
    sources = apdb_data.rows(apdb, "DiaSource", diaSourceId=ids, ra=ra + noise[0], dec=dec + noise[1],
                             visit=[visit] * 60, detector=[4] * 60, midpointMjdTai=[mjd] * 60, band=["g"] * 60, psfFlux=[100.0] * 60)
    return associate_visit(apdb, visit, 4, sources, Time(mjd, format="mjd", scale="tai"))


def association_snapshot(apdb):
    visit_time = Time(60010.0, format="mjd", scale="tai")
    objects = apdb.get_diaobjects(FIELD)
    sources = apdb.get_diasources(FIELD, None, visit_time)
    return (sorted(zip(objects["diaObjectId"].to_pylist(), objects["nDiaSources"].to_pylist())),
            sorted(zip(sources["diaSourceId"].to_pylist(), sources["diaObjectId"].to_pylist())),
            apdb.contains_visit_detector(2, 4))


@pytest.mark.parametrize("fault", ["contribution-partly-loaded", "contribution-loaded", "commit-before-state"])
def test_associate_visit_killed_midway_leaves_the_previous_state(tmp_path, new_instance, fault):
    sys.path.insert(0, str(HERE))
    home = tmp_path / "home"
    new_instance(home, "duckdb", 2)
    with qserv.open(home) as engine:
        apdb = Apdb.create(engine, "apdb")
        associate(apdb, 1)
        before = association_snapshot(apdb)
    assert [n for _, n in before[0]] == [1] * 60 and len(before[1]) == 60 and not before[2]
    env = dict(os.environ, **{FAULT_ENV: fault})
    result = subprocess.run([sys.executable, "-c", ASSOCIATE_SCRIPT, str(home), str(HERE)], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == CRASH_EXIT_CODE, result.stderr
    with qserv.open(home) as engine:
        apdb = Apdb.open(engine, "apdb")
        assert association_snapshot(apdb) == before
        retried = associate(apdb, 2)  # the retry associates the visit once
        after = association_snapshot(apdb)
    assert len(retried.matches.source_index) == 60
    assert [n for _, n in after[0]] == [2] * 60 and after[2]
    owners = dict(after[1])
    assert {owners[2000 + k] for k in range(60)} == {1000 + k for k in range(60)}
