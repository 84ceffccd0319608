"""The web service: ``create_app(settings)`` builds the Flask app serving TAP 1.1 under ``/tap``,
the DBA API under ``/admin/v1`` and the web console at ``/``.

``settings`` is a mapping: ``home`` (the instance home; default ``QSERV_HOME`` or ./qserv-home) or
``engine`` (an open Engine, e.g. in tests), and optionally ``cleanup_interval_s`` (how often
expired async jobs are destroyed; default 60; None: never, another process does it),
``resume_jobs`` (ids of the async jobs to run at start; default: the jobs left queued or executing,
which are queued again) and ``peer_poll_s`` (when other processes serve the same instance: how
often to look for the job changes they make; default None: no other process). Every qserv error
becomes a VOTable error document (``QUERY_STATUS=ERROR``) with the error's HTTP status; anything
else is logged and answered 500.
"""

import logging
import threading

from flask import Flask, Response
from werkzeug.exceptions import HTTPException

import qserv
from qserv.api.admin import register_admin
from qserv.api.alerts import register_alerts
from qserv.api.backbone import register_backbone
from qserv.api.console import register_console
from qserv.api.tap.async_routes import blueprint as async_blueprint
from qserv.api.tap.runner import JobRunner
from qserv.api.tap.service import TapService, destroy_expired_jobs
from qserv.api.tap.service_routes import blueprint as tap_blueprint
from qserv.errors import QservError
from qserv.formats.votable import VOTABLE_MIME, error_votable

log = logging.getLogger(__name__)


def create_app(settings=None):
    settings = dict(settings or {})
    engine = settings.get("engine") or qserv.open(settings.get("home"), read_only=settings.get("read_only", False))
    runner = JobRunner(engine, engine.home / "tap" / "jobs", engine.settings["tap_async_threads"],
                       settings.get("peer_poll_s"))
    service = TapService(engine, runner, owns_engine="engine" not in settings)
    app = Flask("qserv.api")
    app.extensions["qserv"] = service
    app.register_blueprint(tap_blueprint)
    app.register_blueprint(async_blueprint)
    register_admin(app, engine)
    register_alerts(app, engine)
    register_backbone(app)
    register_console(app)
    app.register_error_handler(QservError, _qserv_error)
    app.register_error_handler(Exception, _unexpected_error)
    engine.warm_up()
    resume = settings["resume_jobs"] if "resume_jobs" in settings else engine.tap_jobs.requeue_interrupted()
    for job_id in resume:
        runner.submit(job_id)
    if settings.get("cleanup_interval_s", 60) is not None:
        _start_cleanup(service, float(settings.get("cleanup_interval_s", 60)))
    return app


def _qserv_error(error):
    return Response(error_votable(str(error)), status=error.http_status, content_type=VOTABLE_MIME)


def _unexpected_error(error):
    if isinstance(error, HTTPException):
        return error
    log.exception("unexpected error")
    return Response(error_votable(f"internal error: {error!r}"), status=500, content_type=VOTABLE_MIME)


def _start_cleanup(service, interval_s):
    def loop():
        while not service.stopping.wait(interval_s):
            try:
                destroy_expired_jobs(service)
            except Exception:  # keep cleaning later; the next round retries
                log.exception("destroying expired jobs failed")

    destroy_expired_jobs(service)
    threading.Thread(target=loop, name="tap-cleanup", daemon=True).start()
