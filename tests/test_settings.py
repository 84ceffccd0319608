"""Settings: every one documented in the README, stored per instance, validated."""

import re
from pathlib import Path

import pytest

import qserv
from qserv.errors import UserError
from qserv.instance import init_instance
from qserv.settings import SETTINGS

README = Path(__file__).resolve().parents[1] / "README.md"


def documented_settings():
    section = README.read_text().split("## Settings", 1)[1].split("\n## ", 1)[0]
    found = re.findall(r'^\| `(\w+)` \| (\d+|"[^"|]*") \|', section, re.M)
    return {name: int(default) if default.isdigit() else default.strip('"') for name, default in found}


def test_every_setting_is_documented_with_its_default():
    assert documented_settings() == {spec.name: spec.default for spec in SETTINGS}


def test_settings_are_stored_per_instance_and_validated(tmp_path):
    init_instance(tmp_path / "home", workers=1)
    with qserv.open(tmp_path / "home") as engine:
        assert engine.settings["ingest_batch_rows"] == 1 << 20
        assert engine.set_setting("ingest_batch_rows", "1000") == 1000
        with pytest.raises(UserError, match="unknown setting 'nope'"):
            engine.set_setting("nope", "1")
        with pytest.raises(UserError, match="takes an integer"):
            engine.set_setting("ingest_load_threads", "many")
        with pytest.raises(UserError, match="at least 1"):
            engine.set_setting("ingest_load_threads", "0")
    with qserv.open(tmp_path / "home") as engine:
        assert engine.settings["ingest_batch_rows"] == 1000
