"""The EFD transform on a small synthetic night: every summary against pandas over the same
Parquet files (efd_data.pandas_transform), the unpivoted table, the ADQL join with the exposures,
TAP_SCHEMA, idempotent re-runs and late telemetry; on DuckDB and PostgreSQL workers."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import qserv

from tests.payloads import efd_data


def make_efd(home, new_instance, backend, directory, exposures, topics, document, database="efd"):
    from qserv.payloads.efd import Efd

    new_instance(home, backend, 2)
    engine = qserv.open(home)
    efd = Efd.create(engine, database)
    exposures_path, paths, described = efd_data.night(directory, exposures=exposures, topics=topics)
    for topic, path in paths.items():
        efd.ingest(topic, [path])
    efd.load_exposures([exposures_path])
    document = document(described)
    config = efd_data.write_config(Path(directory) / "config.yaml", document)
    return engine, efd, exposures_path, paths, document, config


def assert_matches(engine, database, expected, only=None):
    """Every value of ``expected`` (exposure id -> column -> value), or of the exposures ``only``."""
    ours = engine.read_table(f"{database}.exposure_efd").to_pandas().set_index("exposure_id")
    assert sorted(ours.index) == sorted(expected)
    compared = 0
    for eid, values in expected.items():
        if only is not None and eid not in only:
            continue
        for column, value in values.items():
            got = ours.loc[eid, column]
            if value is None:
                assert got is None or np.isnan(got), (eid, column, got)
            else:
                assert got == pytest.approx(value, rel=1e-7, abs=1e-9), (eid, column, got, value)
            compared += 1
    return ours, compared


@pytest.fixture(scope="module")
def night(tmp_path_factory, new_instance):
    directory = tmp_path_factory.mktemp("efd-night")
    made = make_efd(directory / "home", new_instance, "duckdb", directory, 30, 5, efd_data.config)
    yield made
    made[0].close()


def test_every_function_matches_pandas(night):
    engine, efd, exposures_path, paths, document, config = night
    assert efd.transform(config) == {"completed": 30, "failed": 0}
    expected = efd_data.pandas_transform(exposures_path, paths, document)
    ours, compared = assert_matches(engine, "efd", expected)
    assert compared == 30 * 54
    assert ours.notna().all().all()  # every window has samples of every topic
    assert efd.tasks.counts() == {"pending": 0, "running": 0, "completed": 30, "failed": 0}
    # the unpivoted table holds the same values, one row per (exposure, entry, field)
    unpivoted = engine.read_table("efd.exposure_efd_unpivoted").to_pandas()
    assert len(unpivoted) == 30 * 54
    for row in unpivoted.sample(50, random_state=1).itertuples():
        entry = next(e for e in document["columns"] if e["name"] == row.property)
        column = row.property if len(entry["fields"]) == 1 else f"{row.property}_{row.field}"
        assert row.value == ours.loc[row.exposure_id, column]


def test_adql_join_with_exposures_and_tap_schema(night):
    engine, efd, exposures_path, paths, document, config = night
    efd.transform(config)
    rows = engine.query("SELECT e.band, AVG(x.t0_mean_actualPosition) AS m FROM efd.exposures AS e "
                        "JOIN efd.exposure_efd AS x ON e.exposure_id = x.exposure_id GROUP BY e.band").to_pandas()
    frame = pd.read_parquet(exposures_path).merge(
        engine.read_table("efd.exposure_efd").to_pandas(), on="exposure_id")
    expected = frame.groupby("band")["t0_mean_actualPosition"].mean()
    assert dict(zip(rows["band"], rows["m"])) == pytest.approx(expected.to_dict(), rel=1e-12)
    columns = engine.query("SELECT column_name, unit, description FROM TAP_SCHEMA.columns "
                           "WHERE table_name = 'efd.exposure_efd'").to_pandas().set_index("column_name")
    entry = document["columns"][1]
    assert columns.loc["t0_stddev_actualVelocity", "unit"] == entry["unit"]
    assert columns.loc["t0_stddev_actualVelocity", "description"] == f"{entry['description']} (actualVelocity)"
    assert columns.loc["t1_mean", "description"] == document["columns"][6]["description"]


def test_rerun_gives_identical_rows(night):
    engine, efd, exposures_path, paths, document, config = night
    efd.transform(config)
    before = engine.read_table("efd.exposure_efd").to_pandas().sort_values("exposure_id", ignore_index=True)
    starts = pd.read_parquet(exposures_path)["obs_start"].to_numpy()
    assert efd.tasks.reopen(starts[3], starts[7]) == 5
    assert efd.transform(config, since=starts[3], until=starts[7]) == {"completed": 5, "failed": 0}
    after = engine.read_table("efd.exposure_efd").to_pandas().sort_values("exposure_id", ignore_index=True)
    pd.testing.assert_frame_equal(before, after)
    assert len(engine.read_table("efd.exposure_efd_unpivoted")) == 30 * 54


def test_late_telemetry_reopens_its_windows(night, tmp_path):
    engine, efd, exposures_path, paths, document, config = night
    efd.transform(config)
    exposures = pd.read_parquet(exposures_path)
    target = exposures.iloc[12]
    topic = "lsst.sal.MTMount.azimuth"  # times as MJDs
    late = pd.DataFrame({"time": np.linspace(target.obs_start + 1e-5, target.obs_end - 1e-5, 40),
                         "actualPosition": 1000.0 + np.arange(40.0), "actualVelocity": -5.0})
    late_path = tmp_path / "late.parquet"
    late.to_parquet(late_path, index=False)
    efd.ingest(topic, [late_path])
    tasks = efd.tasks.read().to_pandas().set_index("exposure_id")
    assert list(tasks.index[tasks["state"] == "pending"]) == [target.exposure_id]
    assert efd.transform(config) == {"completed": 1, "failed": 0}
    combined = tmp_path / "combined.parquet"
    pd.concat([pd.read_parquet(paths[topic]), late]).to_parquet(combined, index=False)
    expected = efd_data.pandas_transform(exposures_path, {**paths, topic: combined}, document)
    ours, _ = assert_matches(engine, "efd", expected)
    assert ours.loc[target.exposure_id, "t0_max_actualPosition"] == 1039.0


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_pre_aggregation_and_subsets(backend, tmp_path, new_instance):
    def document(described):
        return efd_data.config(described, functions=("mean", "stddev", "min", "rms_from_polynomial_fit"),
                               pre_aggregate_s=4.0)

    engine, efd, exposures_path, paths, document, config = make_efd(
        tmp_path / "home", new_instance, backend, tmp_path, 6, 4, document)
    with engine:
        assert efd.transform(config) == {"completed": 6, "failed": 0}
        assert any("subset" in entry for entry in document["columns"])
        assert_matches(engine, "efd", efd_data.pandas_transform(exposures_path, paths, document))


def test_failed_windows_are_recorded_and_retried_after_a_backoff(night, monkeypatch):
    from qserv.payloads.efd import api, output

    engine, efd, exposures_path, paths, document, config = night
    efd.transform(config)
    starts = pd.read_parquet(exposures_path)["obs_start"].to_numpy()
    efd.tasks.reopen(starts[0], starts[1])
    real_write = output.Output.write

    def broken(self, windows):
        raise RuntimeError("worker lost")

    monkeypatch.setattr(output.Output, "write", broken)
    assert efd.transform(config, batch=1) == {"completed": 0, "failed": 2}
    tasks = efd.tasks.read().to_pandas().set_index("exposure_id")
    failed = tasks[tasks["state"] == "failed"]
    assert len(failed) == 2 and set(failed["attempts"]) == {1}
    assert set(failed["error"]) == {"RuntimeError: worker lost"}
    monkeypatch.setattr(output.Output, "write", real_write)
    assert efd.transform(config) == {"completed": 0, "failed": 0}  # within the backoff
    later = api.now_mjd() + 61.0 / 86_400
    monkeypatch.setattr(api, "now_mjd", lambda: later)
    assert efd.transform(config) == {"completed": 2, "failed": 0}
    # the two retried windows (other tests of the module may have added late telemetry elsewhere)
    retried = set(pd.read_parquet(exposures_path)["exposure_id"].iloc[:2])
    _, compared = assert_matches(engine, "efd", efd_data.pandas_transform(exposures_path, paths, document), retried)
    assert compared > 0
