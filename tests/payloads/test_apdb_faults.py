"""A process killed in the middle of ``Apdb.store`` leaves the APDB as it was before the store
(readers never see part of a visit), and the store can be retried."""

import os
from pathlib import Path
import subprocess
import sys
import textwrap

from astropy.time import Time
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
