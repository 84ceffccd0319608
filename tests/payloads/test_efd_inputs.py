"""EFD bad input: configuration entries, exposure windows, telemetry times; each refused with an
error naming the entry, file, row or column, and nothing written. Times against astropy; topic
names to table names."""

import numpy as np
import pyarrow as pa
import pytest
from astropy.time import Time

import qserv
from qserv.errors import InputError, UserError
from qserv.payloads.efd.config import check_topics, parse_config
from qserv.payloads.efd.names import table_name
from qserv.payloads.efd.times import to_mjd_tai

ENTRY = {"name": "az", "tables": ["exposure_efd"], "function": "mean", "topic": "lsst.sal.MTMount.azimuth",
         "fields": ["actualPosition"], "datatype": "double", "unit": "deg", "description": "azimuth"}
TOPICS = {"lsst.sal.MTMount.azimuth": {"time_mjd_tai": "double", "actualPosition": "double", "salIndex": "int",
                                       "label": "string"}}


def refused(changes, *fragments, drop=()):
    entry = {**ENTRY, **changes}
    for key in drop:
        del entry[key]
    with pytest.raises(UserError) as error:
        check_topics(parse_config({"version": 1, "columns": [ENTRY, entry]}), TOPICS)
    for fragment in fragments:
        assert fragment in str(error.value), str(error.value)


def test_config_errors_name_the_entry():
    refused({"name": "b", "topic": "lsst.sal.Nope"}, "entry 'b'", "unknown topic 'lsst.sal.Nope'")
    refused({"name": "c", "fields": ["nope"]}, "entry 'c'", "no field 'nope'")
    refused({"name": "d", "function": "median"}, "columns[1] (name 'd')", "unknown function 'median'")
    refused({"name": "e", "function": "rms_from_polynomial_fit"}, "(name 'e')", "degree")
    refused({"name": "f", "function": "rms_from_polynomial_fit", "function_args": {"degree": "two"}}, "degree")
    refused({"name": "g", "function_args": {"degree": 2}}, "(name 'g')", "takes no argument degree")
    refused({"name": "h"}, "(name 'h')", "missing unit", drop=("unit",))
    refused({"name": "i", "tables": ["visit_efd"]}, "(name 'i')", "tables must list")
    refused({"name": "j", "subset": {"nope": 1}}, "entry 'j'", "subset names 'nope'")
    refused({"name": "k", "fields": ["label"]}, "entry 'k'", "not numeric")
    refused({"name": "l", "pre_aggregate_interval_s": 0}, "(name 'l')", "must be > 0")
    refused({}, "output column 'az' is repeated")
    refused({"name": "m", "colour": "red"}, "(name 'm')", "unknown keys colour")
    refused({"name": "bad name"}, "invalid name 'bad name'")


def test_columns_of_several_fields():
    config = parse_config({"version": 1, "columns": [{**ENTRY, "fields": ["actualPosition", "salIndex"]}]})
    assert [c.column for c in config.outputs("exposure_efd")] == ["az_actualPosition", "az_salIndex"]
    assert config.outputs("exposure_efd_unpivoted") == []


def test_times_against_astropy():
    iso = ["2026-01-05T03:15:00.250", "2026-01-05T23:59:59.999999", "1999-12-31T00:00:00"]
    expected = Time(iso, format="isot", scale="tai").mjd
    assert to_mjd_tai(pa.array(iso), "f", "time") == pytest.approx(expected, abs=1e-11)
    stamps = pa.array(np.array(iso, dtype="datetime64[ns]"))
    assert to_mjd_tai(stamps, "f", "time") == pytest.approx(expected, abs=1e-11)
    assert list(to_mjd_tai(pa.array([61000.5, 61001]), "f", "time")) == [61000.5, 61001.0]
    with pytest.raises(InputError) as error:
        to_mjd_tai(pa.array(["2026-01-05T03:15:00", "yesterday"]), "t.csv", "time")
    assert str(error.value).startswith("t.csv, row 2, column 'time'")


def test_topic_table_names():
    assert table_name("lsst.sal.MTMount.azimuth", set()) == "topic_lsst_sal_MTMount_azimuth"
    assert table_name("lsst.sal.MTMount-azimuth", {"topic_lsst_sal_mtmount_azimuth"}) == \
        "topic_lsst_sal_MTMount_azimuth_2"
    long = "lsst.sal." + "x" * 100
    assert len(table_name(long, set())) == 63 and table_name(long, {table_name(long, set()).lower()}).endswith("_2")
    with pytest.raises(UserError):
        table_name("1; DROP TABLE", set())


@pytest.fixture
def efd(tmp_path, new_instance):
    from qserv.payloads.efd import Efd

    new_instance(tmp_path / "home", "duckdb", 1)
    with qserv.open(tmp_path / "home") as engine:
        yield Efd.create(engine, "efd")


def test_bad_files_write_nothing(efd, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("time,salIndex,x\n2026-01-05T03:00:00,1,1.5\n2026-01-05T03:00:01,2,2.5\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("time,salIndex,x\n2026-01-05T03:00:02,1,1.5\n2026-13-45T03:00:03,1,2.5\n")
    with pytest.raises(InputError) as error:
        efd.ingest("lsst.sal.X.y", [good, bad])
    assert str(error.value).startswith("bad.csv, row 2, column 'time'")
    assert efd.topics() == {}  # the topic is not even created
    assert efd.ingest("lsst.sal.X.y", [good]) == 2
    with pytest.raises(InputError, match="columns not in the topic: 'z'"):
        efd.ingest("lsst.sal.X.y", [pa.table({"time": [61000.0], "z": [1.0]})])
    assert efd.engine.read_table("efd.topic_lsst_sal_X_y").num_rows == 2


def test_overlapping_exposures_refused(efd):
    def exposures(ids, starts, ends):
        return pa.table({"day_obs": [20260105] * len(ids), "seq_num": ids, "exposure_id": ids,
                         "obs_start": starts, "obs_end": ends})

    with pytest.raises(UserError, match="exposure 2 overlaps exposure 1"):
        efd.load_exposures([exposures([1, 2], [61000.0, 61000.0002], [61000.0003, 61000.0005])])
    with pytest.raises(InputError, match="batch 1, row 1: obs_end is before obs_start"):
        efd.load_exposures([exposures([1], [61000.0003], [61000.0])])
    assert efd.exposures().num_rows == 0
    assert efd.load_exposures([exposures([1, 2], [61000.0, 61000.0004], [61000.0003, 61000.0005])]) == 2
    with pytest.raises(UserError, match="exposure 3 overlaps exposure 2"):
        efd.load_exposures([exposures([3], [61000.00045], [61000.0006])])
    with pytest.raises(UserError, match="exposure_id 4 is given twice"):
        efd.load_exposures([exposures([4, 4], [61001.0, 61002.0], [61001.1, 61002.1])])
    assert efd.exposures().num_rows == 2
    assert efd.tasks.counts()["pending"] == 2
