"""Instance settings: one table of names, defaults and help (documented in the README), with
per-instance values stored in the central state (``qserv settings set NAME VALUE``)."""

from dataclasses import dataclass

from qserv.errors import UserError
from qserv.meta.models import Setting


@dataclass(frozen=True)
class SettingSpec:
    name: str
    default: int
    minimum: int
    help: str


SETTINGS = (
    SettingSpec("ingest_batch_rows", 1 << 20, 1,
                "Rows read, partitioned and written per step of a contribution (memory vs overhead)."),
    SettingSpec("ingest_load_threads", 4, 1,
                "Threads appending rows to workers while the next batch is partitioned."),
    SettingSpec("query_timeout_s", 3600, 1,
                "Seconds a query may run before its worker statements are cancelled."),
    SettingSpec("query_batch_chunks", 2000, 1,
                "Chunks one worker statement covers (a worker holding more gets several statements)."),
    SettingSpec("query_threads", 8, 1,
                "Worker statements of one query running at the same time."),
)
BY_NAME = {spec.name: spec for spec in SETTINGS}


def parse_value(name, text):
    spec = BY_NAME.get(name)
    if spec is None:
        raise UserError(f"unknown setting {name!r} (settings: {', '.join(BY_NAME)})")
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise UserError(f"setting {name} takes an integer, got {text!r}") from None
    if value < spec.minimum:
        raise UserError(f"setting {name} must be at least {spec.minimum}, got {value}")
    return value


def load_settings(session):
    """{name: value} for every setting: the stored value, else the default."""
    values = {spec.name: spec.default for spec in SETTINGS}
    for row in session.query(Setting).all():
        if row.name in BY_NAME:
            values[row.name] = parse_value(row.name, row.value)
    return values


def store_setting(session, name, text):
    value = parse_value(name, text)
    row = session.get(Setting, name)
    if row is None:
        session.add(Setting(name=name, value=str(value)))
    else:
        row.value = str(value)
    return value
