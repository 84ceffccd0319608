"""`qserv backbone ...` as the issue's contract uses it: create, dataset-type add, collection add,
register (JSON lines and Parquet), find (one JSON object per dataset, chains resolved in order,
first match per data id), and bad input (exit 2, nothing registered)."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from qserv.instance import init_instance
from tests.cli_run import ok, run, user_error


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    path = tmp_path_factory.mktemp("backbone-cli") / "home"
    init_instance(path, workers=2)
    return path


def rows(run_name, visits):
    return [{"dataset_type": "calexp", "instrument": "Cam", "visit": v, "detector": d,
             "uri": f"file:///{run_name}/{v}_{d}.fits", "size": 100, "checksum": f"x{v}{d}",
             "s_ra": 10.0 + v, "s_dec": d * 0.5, "s_fov": 0.3, "t_min": 60000.0 + v, "t_max": 60000.1 + v,
             "band": "g"} for v in visits for d in range(3)]


def test_backbone_commands(home, tmp_path):
    ok(run(home, "backbone", "create", "bb"))
    ok(run(home, "backbone", "dataset-type", "add", "bb", "calexp", "--dimensions", "instrument,visit,detector",
           "--storage-class", "ExposureF"))
    ok(run(home, "backbone", "collection", "add", "bb", "old", "--type", "run"))
    lines = tmp_path / "old.jsonl"
    lines.write_text("\n".join(json.dumps(r) for r in rows("old", range(4))))
    assert "registered 12 datasets" in ok(run(home, "backbone", "register", "bb", "--run", "old", str(lines)))
    assert "registered 0 datasets in old (12 already" in ok(run(home, "backbone", "register", "bb", "--run", "old",
                                                                 str(lines)))
    new = tmp_path / "new.parquet"
    pq.write_table(pa.Table.from_pylist(rows("new", [1, 2])), new)
    ok(run(home, "backbone", "register", "bb", "--run", "new", str(new)))
    ok(run(home, "backbone", "collection", "add", "bb", "all", "--type", "chained", "--children", "new,old"))
    found = [json.loads(line) for line in ok(run(home, "backbone", "find", "bb", "calexp", "--collections", "all",
                                                  "--where", "visit >= 1 AND detector = 2")).splitlines()]
    expected = {(v, 2): ("new" if v in (1, 2) else "old") for v in range(1, 4)}
    assert {(f["visit"], f["detector"]): f["run"] for f in found} == expected
    assert all(f["uri"] == f"file:///{f['run']}/{f['visit']}_2.fits" and len(f["id"]) == 36 for f in found)
    found_old_first = ok(run(home, "backbone", "find", "bb", "calexp", "--collections", "old,new",
                             "--where", "visit = 1 AND detector = 0"))
    assert [json.loads(line)["run"] for line in found_old_first.splitlines()] == ["old"]
    obscore = ok(run(home, "query", "SELECT COUNT(*) AS n FROM ivoa.ObsCore WHERE "
                                     "CONTAINS(POINT(s_ra, s_dec), CIRCLE(11, 0, 0.2)) = 1"))
    assert "2" in obscore  # visit 1 detector 0 of runs old and new


def test_bad_input_exits_2_and_registers_nothing(home, tmp_path):
    ok(run(home, "backbone", "create", "bad"))
    ok(run(home, "backbone", "dataset-type", "add", "bad", "calexp", "--dimensions", "instrument,visit,detector"))
    broken = rows("r", [1])
    broken[2] = {**broken[2], "detector": None}
    path = tmp_path / "broken.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in broken))
    user_error(run(home, "backbone", "register", "bad", "--run", "r", str(path)), "row 3", "misses dimension")
    user_error(run(home, "backbone", "find", "bad", "calexp", "--collections", "r"), "no collection 'r'")
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"dataset_type": "calexp", "instrument": "Cam", "visit": 1, "detector": 1,
                                "uri": "f"}))
    ok(run(home, "backbone", "register", "bad", "--run", "r", str(good)))
    dataset = json.loads(ok(run(home, "backbone", "find", "bad", "calexp", "--collections", "r")))["id"]
    ok(run(home, "backbone", "collection", "add", "bad", "c1", "--type", "chained", "--children", "r"))
    ok(run(home, "backbone", "collection", "add", "bad", "c2", "--type", "chained", "--children", "c1"))
    user_error(run(home, "backbone", "collection", "add", "bad", "c1", "--type", "chained", "--children", "c2"),
               "cycle")
    ok(run(home, "backbone", "collection", "add", "bad", "cal", "--type", "calibration"))
    ok(run(home, "backbone", "certify", "bad", "cal", dataset, "--begin", "10", "--end", "20"))
    user_error(run(home, "backbone", "certify", "bad", "cal", dataset, "--begin", "19"), "overlaps")
