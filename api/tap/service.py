"""What the TAP routes share: the engine, the async job runner, the slots for fetching upload
URLs, and request helpers."""

from dataclasses import dataclass, field
import threading

from flask import current_app, g, request, url_for

from qserv.api.tap.auth import caller_of
from qserv.api.tap.fetch import FetchPolicy, allow_list
from qserv.api.tap.params import lower_names
from qserv.api.tap.uploads import UploadLimits, read_uploads


@dataclass
class TapService:
    engine: object
    runner: object
    owns_engine: bool = True
    stopping: threading.Event = field(default_factory=threading.Event)
    fetch_slots: threading.Semaphore = None

    def __post_init__(self):
        self.fetch_slots = threading.BoundedSemaphore(self.engine.settings["tap_upload_fetches"])

    def close(self):
        self.stopping.set()
        self.runner.shutdown()
        if self.owns_engine:
            self.engine.close()


def service():
    return current_app.extensions["qserv"]


def parameters():
    """The request's parameters (query string and form), names lower-cased."""
    pairs = list(request.args.items(multi=True))
    if request.method == "POST":
        pairs += list(request.form.items(multi=True))
    return lower_names(pairs)


def caller():
    """The Caller of this request (checked once per request)."""
    if "caller" not in g:
        engine = service().engine
        g.caller = caller_of(engine, request.headers.get("Authorization"),
                             bool(engine.settings["tap_anonymous_read"]))
    return g.caller


def request_uploads(upload):
    """{name: pyarrow.Table} of this request's UPLOAD parameter value (empty without one)."""
    if not upload:
        return {}
    tap = service()
    settings = tap.engine.settings
    names, networks = allow_list(settings["tap_upload_allow_hosts"])
    policy = FetchPolicy(allowed_names=names, allowed_networks=networks, own_ports=_own_ports(),
                         max_bytes=settings["tap_upload_max_mb"] << 20,
                         timeout_s=settings["tap_upload_fetch_timeout_s"])
    return read_uploads(upload, request.files, UploadLimits(settings["tap_upload_max_rows"], policy, tap.fetch_slots))


def _own_ports():
    """The ports this server is reached on: its own and the one in the Host header."""
    ports = {request.environ.get("SERVER_PORT", ""), request.host.rpartition(":")[2] if ":" in request.host else ""}
    return frozenset(int(port) for port in ports if port.isascii() and port.isdigit())


def base_url():
    """The absolute URL of the TAP service (…/tap)."""
    return url_for("tap.root", _external=True).rstrip("/")


def destroy_expired_jobs(tap):
    """Delete the jobs whose destruction time has passed, with their files."""
    for job_id in tap.engine.tap_jobs.destroy_expired(tap.runner.remove_files):
        tap.runner.waits.changed(job_id)
