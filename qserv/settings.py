"""Instance settings: one table of names, defaults and help (documented in the README), with
per-instance values stored in the central state (``qserv settings set NAME VALUE``)."""

from dataclasses import dataclass

from qserv.errors import UserError
from qserv.meta.models import Setting


@dataclass(frozen=True)
class SettingSpec:
    name: str
    default: int | str  # a str default makes a text setting (minimum unused)
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
    SettingSpec("plan_cache_shapes", 1000, 0,
                "Query shapes (text with its numbers lifted out) whose plans are kept, so a query seen before with "
                "other numbers is not parsed and planned again; 0 turns the plan cache off."),
    SettingSpec("query_result_max_mb", 4096, 1,
                "MiB of rows the workers may return for one query; a larger result is refused with "
                "'result too large' instead of exhausting the czar's memory."),
    SettingSpec("czar_memory_mb", 4096, 64,
                "MiB of memory the czar's DuckDB may use to merge results and evaluate czar-side queries "
                "(CTEs, uploads joined with uploads); a query needing more is refused."),
    SettingSpec("transaction_abandon_s", 86_400, 60,
                "Seconds after which an open ingest transaction counts as abandoned and is aborted at the next "
                "open (one whose process died on this host is aborted at once)."),
    SettingSpec("worker_suspect_s", 30, 0,
                "Seconds a worker that could not be reached is used only when no other replica has the chunk."),
    SettingSpec("tap_maxrec_default", 100_000, 0,
                "TAP: rows a query returns when the request sets no MAXREC (advertised in /capabilities)."),
    SettingSpec("tap_maxrec_limit", 5_000_000, 1,
                "TAP: the most rows any TAP query returns, whatever MAXREC asks (the result is marked OVERFLOW)."),
    SettingSpec("tap_sync_timeout_s", 600, 1,
                "TAP: seconds a /sync query may run; longer queries must use /async."),
    SettingSpec("tap_async_duration_s", 3600, 1,
                "TAP: default executionduration of an async job, in seconds (a job may ask for less)."),
    SettingSpec("tap_job_lifetime_s", 7 * 86_400, 60,
                "TAP: seconds from an async job's creation to its default destruction time."),
    SettingSpec("tap_async_threads", 2, 1,
                "TAP: async jobs executing at the same time (more wait in phase QUEUED)."),
    SettingSpec("tap_upload_max_rows", 100_000, 1,
                "TAP: the most rows of one UPLOAD table."),
    SettingSpec("tap_anonymous_read", 1, 0,
                "TAP: 1 lets requests without a token query (as user 'anonymous'); 0 requires a token."),
    SettingSpec("tap_wait_max_s", 60, 0,
                "TAP: the longest a GET of an async job with WAIT blocks (a larger or negative WAIT is cut to this)."),
    SettingSpec("tap_waiters", 8, 0,
                "TAP: job GETs with WAIT blocking at the same time; beyond, WAIT answers at once with the current phase."),
    SettingSpec("tap_upload_max_mb", 256, 1,
                "TAP: MiB of one UPLOAD document (a multipart part or a fetched URL)."),
    SettingSpec("tap_upload_fetch_timeout_s", 30, 1,
                "TAP: seconds to fetch one http(s) UPLOAD URL, redirects included."),
    SettingSpec("tap_upload_fetches", 4, 1,
                "TAP: http(s) UPLOAD URLs fetched at the same time; beyond, the request is refused (503)."),
    SettingSpec("tap_upload_allow_hosts", "", 0,
                "TAP: comma-separated host names, IP addresses or CIDR networks an http(s) UPLOAD may reach although "
                "they are loopback, private, link-local or reserved (e.g. 127.0.0.1 for tests); empty: public only."),
    SettingSpec("alerts_database", "alerts", 0,
                "Alerts: the database whose alert archive /alerts/v1 serves (created by qserv alerts create DB)."),
)
BY_NAME = {spec.name: spec for spec in SETTINGS}


def parse_value(name, text):
    spec = BY_NAME.get(name)
    if spec is None:
        raise UserError(f"unknown setting {name!r} (settings: {', '.join(BY_NAME)})")
    if isinstance(spec.default, str):
        return str(text).strip()
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
