"""TAP async (UWS 1.1) routes under /tap/async. Every redirect is a 303 to an absolute URL."""

from contextlib import nullcontext
from pathlib import Path
import time

from flask import Blueprint, Response, redirect, request, send_file, url_for

from qserv.api.tap.params import parse_execution_duration, parse_maxrec, parse_wait
from qserv.api.tap.service import caller, parameters, request_uploads, service
from qserv.api.tap.uws_xml import job_list_xml, job_xml, parameters_xml, results_xml
from qserv.errors import NotFoundError, TapParameterError
from qserv.formats.votable import VOTABLE_MIME, error_votable
from qserv.meta.tap_jobs import ACTIVE, PHASES, uws_time

blueprint = Blueprint("tap_async", __name__, url_prefix="/tap/async")
XML = "text/xml"
TEXT = "text/plain"
# parameters that control the job rather than its query
_CONTROL = ("phase", "runid", "executionduration", "destruction", "action")


def _job_url(job_id):
    return url_for("tap_async.job", job_id=job_id, _external=True)


def _result_url(job_id):
    return url_for("tap_async.result", job_id=job_id, _external=True)


def _see_job(job_id):
    return redirect(_job_url(job_id), code=303)


def _jobs():
    return service().engine.tap_jobs


def _load(job_id):
    who = caller()
    return _jobs().get(job_id, who.name, who.is_admin)


def _settings():
    return service().engine.settings


@blueprint.get("", strict_slashes=False)
def job_list():
    who = caller()
    phases = [value for name, value in request.args.items(multi=True) if name.lower() == "phase"]
    params = parameters()
    jobs = _jobs().list(who.name, who.is_admin, phases=phases or None, after=params.get("after"),
                        last=params.get("last"))
    return Response(job_list_xml(jobs, _job_url), mimetype=XML)


@blueprint.post("", strict_slashes=False)
def create():
    who = caller()
    params = parameters()
    run = params.get("phase", "")
    if run and run.upper() != "RUN":
        raise TapParameterError(f"PHASE={run} is not allowed when creating a job (use RUN)")
    parse_maxrec(params.get("maxrec"))
    uploads = request_uploads(params.get("upload"))
    job_id = _jobs().create(who.name, {k: v for k, v in params.items() if k not in _CONTROL},
                            run_id=params.get("runid"), **_times(params)).id
    if uploads:
        service().runner.save_uploads(job_id, uploads)
    if run:
        _run(job_id)
    return _see_job(job_id)


def _times(params):
    """The execution duration and destruction time a request sets (None for those it does not)."""
    duration = params.get("executionduration")
    return {"execution_duration_s": None if duration is None else parse_execution_duration(duration),
            "destruction": params.get("destruction")}


def _run(job_id, who=None):
    """Queue the job (one ``who`` sees, when given) and hand it to the runner."""
    if _jobs().queue(job_id, *((who.name, who.is_admin) if who else ())):
        service().runner.submit(job_id)


@blueprint.get("/<job_id>")
def job(job_id):
    params = parameters()
    wait_s = parse_wait(params.get("wait"), _settings()["tap_wait_max_s"])
    # UWS 1.1: block while the job is PENDING, QUEUED or EXECUTING (or only in the PHASE given)
    waiting_phases = {"PENDING", *ACTIVE}
    if params.get("phase"):
        wanted = params["phase"].upper()
        if wanted not in PHASES:
            raise TapParameterError(f"PHASE={params['phase']} is not a job phase ({', '.join(PHASES)})")
        waiting_phases &= {wanted}
    deadline = time.monotonic() + wait_s
    watching = service().runner.waits.watching(job_id) if wait_s > 0 else nullcontext()
    with watching as watch:  # None: no wait asked or no free slot: answer at once
        while True:
            seen = watch.version if watch else None
            found = _load(job_id)
            remaining = deadline - time.monotonic()
            if watch is None or found.phase not in waiting_phases or remaining <= 0:
                return Response(job_xml(found, _result_url(job_id), service().runner.upload_names(job_id)),
                                mimetype=XML)
            poll_s = service().runner.peer_poll_s  # other processes change jobs without waking us
            if not watch.wait(seen, remaining if poll_s is None else min(remaining, poll_s)):
                watch = None  # the service is closing: answer with the job as it is


@blueprint.delete("/<job_id>")
def delete(job_id):
    _delete(job_id)
    return redirect(url_for("tap_async.job_list", _external=True), code=303)


@blueprint.post("/<job_id>")
def post_job(job_id):
    params = parameters()
    if params.get("action", "").upper() == "DELETE":
        return delete(job_id)
    if "action" in params:
        raise TapParameterError(f"ACTION={params['action']} is not supported (use DELETE)")
    who = caller()
    _load(job_id)
    times = _times(params)
    extra = {k: v for k, v in params.items() if k not in _CONTROL}
    parse_maxrec(extra.get("maxrec"))
    _jobs().update(job_id, who.name, who.is_admin, parameters=extra, **times)
    if params.get("phase"):
        _change_phase(job_id, params["phase"])
    return _see_job(job_id)


def _delete(job_id):
    who = caller()
    _jobs().delete(job_id, who.name, who.is_admin, service().runner.remove_files)
    service().runner.waits.changed(job_id)


def _change_phase(job_id, value):
    phase = value.upper()
    if phase == "RUN":
        _run(job_id, caller())
    elif phase == "ABORT":
        who = caller()
        _jobs().abort(job_id, who.name, who.is_admin)
        service().runner.abort(job_id)
    else:
        raise TapParameterError(f"PHASE={value} is not allowed (use RUN or ABORT)")


@blueprint.route("/<job_id>/phase", methods=["GET", "POST"])
def phase(job_id):
    if request.method == "POST":
        _change_phase(job_id, parameters().get("phase", ""))
        return _see_job(job_id)
    return _text(job_id, lambda found: found.phase)


@blueprint.route("/<job_id>/executionduration", methods=["GET", "POST"])
def execution_duration(job_id):
    if request.method == "POST":
        return post_job(job_id)
    return _text(job_id, lambda found: str(found.execution_duration_s))


@blueprint.route("/<job_id>/destruction", methods=["GET", "POST"])
def destruction(job_id):
    if request.method == "POST":
        return post_job(job_id)
    return _text(job_id, lambda found: uws_time(found.destruction_time))


@blueprint.get("/<job_id>/owner")
def owner(job_id):
    return _text(job_id, lambda found: found.owner)


@blueprint.get("/<job_id>/quote")
def quote(job_id):
    return _text(job_id, lambda found: "")


@blueprint.get("/<job_id>/error")
def error(job_id):
    found = _load(job_id)
    if found.phase != "ERROR":
        raise NotFoundError(f"job {job_id} has no error (it is {found.phase})")
    return Response(error_votable(found.error_message or "the job failed"), content_type=VOTABLE_MIME)


@blueprint.get("/<job_id>/results")
def results(job_id):
    return Response(results_xml(_load(job_id), _result_url(job_id)), mimetype=XML)


@blueprint.get("/<job_id>/results/result")
def result(job_id):
    found = _load(job_id)
    # The result file lies in the job's folder of this home, whatever path was recorded
    # (jobs of older releases recorded it relative to the server's working directory).
    path = service().runner.job_dir(job_id) / Path(found.result_path or "").name
    if found.phase != "COMPLETED" or not found.result_path or not path.is_file():
        raise NotFoundError(f"job {job_id} has no result (it is {found.phase})")
    return send_file(path, mimetype=found.result_mime)


@blueprint.route("/<job_id>/parameters", methods=["GET", "POST"])
def job_parameters(job_id):
    if request.method == "POST":
        return post_job(job_id)
    return Response(parameters_xml(_load(job_id), service().runner.upload_names(job_id)), mimetype=XML)


def _text(job_id, value_of):
    return Response(value_of(_load(job_id)), mimetype=TEXT)


