"""`qserv efd create|ingest|exposures|transform|status` end to end (a new process per command):
outputs against the pandas oracle, status, user errors (exit 2)."""


import numpy as np
import pandas as pd
import pytest

import qserv
from tests.cli_run import ok, run as run_cli, user_error

from tests.payloads import efd_data


def run(home, *args):
    return run_cli(home, "efd", *map(str, args))


def test_efd_commands(tmp_path, new_instance):
    home = tmp_path / "home"
    new_instance(home, "duckdb", 2)
    assert ok(run(home, "create", "efd")).strip() == "created EFD efd"
    exposures_path, paths, described = efd_data.night(tmp_path, exposures=5, topics=2)
    topic, fields, _, _ = described[0]
    csv = tmp_path / "topic0.csv"  # the first topic as CSV with ISO TAI times
    frame = pd.read_parquet(paths[topic])
    frame["time"] = (efd_data.MJD_EPOCH + pd.to_timedelta(frame["time"] * 86_400e9, unit="ns")).dt.strftime(
        "%Y-%m-%dT%H:%M:%S.%f")
    frame.to_csv(csv, index=False)
    paths = {**paths, topic: csv}
    out = ok(run(home, "ingest", "efd", topic, csv))
    assert out.strip() == f"{len(frame)} rows loaded into {topic} (table efd.topic_lsst_sal_MTMount_azimuth)"
    ok(run(home, "ingest", "efd", described[1][0], paths[described[1][0]]))
    assert ok(run(home, "exposures", "efd", exposures_path)).strip() == "5 exposures loaded"
    document = efd_data.config(described, functions=("mean", "max", "most_recent_value"))
    config = efd_data.write_config(tmp_path / "config.yaml", document)
    starts = pd.read_parquet(exposures_path)["obs_start"]
    out = ok(run(home, "transform", "efd", "--config", config, "--until", repr(float(starts[2]))))
    assert out.strip() == "3 windows completed, 0 failed"
    status = ok(run(home, "status", "efd"))
    assert status.splitlines()[0] == "pending 2, running 0, completed 3, failed 0"
    assert len(status.splitlines()) == 3
    assert ok(run(home, "transform", "efd", "--config", config)).strip() == "2 windows completed, 0 failed"
    assert ok(run(home, "transform", "efd", "--config", config)).strip() == "0 windows completed, 0 failed"

    csv_frame = pd.read_csv(csv)  # the oracle reads the same CSV text, parsed by pandas
    csv_frame["time"] = pd.to_datetime(csv_frame["time"])
    csv_frame.to_parquet(tmp_path / "oracle0.parquet", index=False)
    expected = efd_data.pandas_transform(exposures_path, {**paths, topic: tmp_path / "oracle0.parquet"}, document)
    with qserv.open(home) as engine:
        ours = engine.read_table("efd.exposure_efd").to_pandas().set_index("exposure_id")
    for eid, values in expected.items():
        for column, value in values.items():
            assert ours.loc[eid, column] == pytest.approx(value, rel=1e-9), (eid, column)
    assert not np.isnan(ours.to_numpy(dtype=float)).any()


def test_efd_user_errors(tmp_path, new_instance):
    home = tmp_path / "home"
    new_instance(home, "duckdb", 1)
    user_error(run(home, "status", "nope"), "no database 'nope'")
    ok(run(home, "create", "efd"))
    user_error(run(home, "ingest", "efd", "lsst.sal.X", tmp_path / "missing.parquet"), "no such file")
    config = efd_data.write_config(tmp_path / "c.yaml", {"version": 1, "columns": [
        {"name": "a", "tables": ["exposure_efd"], "function": "mean", "topic": "lsst.sal.X", "fields": ["x"],
         "datatype": "double", "unit": "", "description": "a"}]})
    user_error(run(home, "transform", "efd", "--config", config), "entry 'a'", "unknown topic 'lsst.sal.X'")
    user_error(run(home, "transform", "efd", "--config", config, "--since", "soon"), "--since", "'soon'")
    bad = tmp_path / "t.csv"
    bad.write_text("time,x\n61000.1,1\nnever,2\n")
    user_error(run(home, "ingest", "efd", "lsst.sal.X", bad), "t.csv, row 2, column 'time'")
