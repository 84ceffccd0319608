"""What the TAP routes share: the engine, the async job runner, and request helpers."""

from dataclasses import dataclass, field
import threading

from flask import current_app, g, request, url_for

from qserv.api.tap.auth import caller_of
from qserv.api.tap.params import lower_names
from qserv.meta.tap_jobs import delete_job, expired_jobs


@dataclass
class TapService:
    engine: object
    runner: object
    owns_engine: bool = True
    stopping: threading.Event = field(default_factory=threading.Event)

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


def base_url():
    """The absolute URL of the TAP service (…/tap)."""
    return url_for("tap.root", _external=True).rstrip("/")


def destroy_expired_jobs(tap):
    """Delete the jobs whose destruction time has passed, with their files."""
    with tap.engine.store.session() as session:
        for job in expired_jobs(session):
            tap.runner.remove_files(job.id)
            delete_job(session, job)
