"""TAP async jobs (UWS 1.1) in the central state.

Pure functions over a SQLAlchemy session (the caller owns the transaction). A job is created
``PENDING`` with its request parameters (names lower-cased, values strings), then moves through
the UWS phases::

    PENDING/HELD --queue_job--> QUEUED --start_job--> EXECUTING --complete_job--> COMPLETED
                                                                --fail_job-----> ERROR
    any phase not final --abort_job--> ABORTED

Phase changes are compare-and-set UPDATEs (``... WHERE phase IN (allowed)``), so a web request
aborting a job and the runner starting or completing it may use separate sessions: whichever
commits first wins and the other sees the job's new phase. The runner's calls
(:func:`start_job`, :func:`complete_job`, :func:`fail_job`) return False when the job was aborted
or deleted meanwhile; a change the phase does not allow raises :class:`UserError`.

Times are naive UTC (as :func:`qserv.meta.models.utc_now`); :func:`uws_time` and
:func:`parse_uws_time` convert them to and from the ISO 8601 text UWS documents use.
"""

import secrets
from datetime import datetime, timezone

from sqlalchemy import select, update

from qserv.errors import NotFoundError, UserError
from qserv.meta.models import TapJob, utc_now
from qserv.meta.users import ANONYMOUS

PHASES = ("PENDING", "QUEUED", "EXECUTING", "COMPLETED", "ERROR", "ABORTED", "UNKNOWN", "HELD",
          "SUSPENDED", "ARCHIVED")
ACTIVE = ("QUEUED", "EXECUTING")
FINAL = ("COMPLETED", "ERROR", "ABORTED", "ARCHIVED")
ABORTABLE = tuple(phase for phase in PHASES if phase not in FINAL)
QUEUEABLE = ("PENDING", "HELD")
FAILABLE = ("QUEUED", "EXECUTING")
MAX_LAST = 10_000  # LAST beyond this lists this many


# -- times ------------------------------------------------------------------------------------

def naive_utc(moment):
    """``moment`` as a naive UTC datetime (an aware one is converted; a naive one is taken as UTC)."""
    if not isinstance(moment, datetime):
        raise UserError(f"expected a date and time, got {moment!r}")
    if moment.tzinfo is not None:
        try:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
        except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
            raise UserError(f"{moment.isoformat()} is outside the years 1 to 9999 in UTC") from None
    return moment


def uws_time(moment):
    """ISO 8601 UTC with milliseconds, e.g. ``2026-11-21T10:00:00.000Z``; None stays None."""
    if moment is None:
        return None
    moment = naive_utc(moment)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def parse_uws_time(text):
    """A naive UTC datetime from ISO 8601 text: ``Z`` or an offset (none means UTC), with or
    without a fraction of a second, or a date alone (midnight)."""
    if isinstance(text, datetime):
        return naive_utc(text)
    if not isinstance(text, str) or not text.strip():
        raise UserError(f"expected an ISO 8601 date and time such as 2026-11-21T10:00:00Z, got {text!r}")
    cleaned = text.strip()
    if cleaned[-1:] in ("z", "Z"):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        return naive_utc(datetime.fromisoformat(cleaned))
    except ValueError:
        raise UserError(
            f"expected an ISO 8601 date and time such as 2026-11-21T10:00:00Z, got {text!r}") from None


# -- creation and lookup ----------------------------------------------------------------------

def normalize_parameters(parameters):
    """{lower-cased name: string value}; two names differing only in case are an error."""
    normalized = {}
    for name, value in dict(parameters or {}).items():
        key = str(name).lower()
        if key in normalized:
            raise UserError(f"parameter {key.upper()} is given twice")
        normalized[key] = value if isinstance(value, str) else str(value)
    return normalized


def _check_duration(seconds):
    if isinstance(seconds, bool):
        seconds = None
    if isinstance(seconds, str):
        try:
            seconds = int(seconds.strip())
        except ValueError:
            seconds = None
    elif isinstance(seconds, float) and seconds.is_integer():
        seconds = int(seconds)
    if not isinstance(seconds, int):
        raise UserError("the execution duration must be a whole number of seconds")
    if seconds <= 0:
        raise UserError(f"the execution duration must be a positive number of seconds, got {seconds}")
    return seconds


def create_job(session, owner, parameters, execution_duration_s, destruction_time, run_id=None):
    """A new ``PENDING`` job of user ``owner`` (flushed, not committed)."""
    job = TapJob(
        id=secrets.token_hex(8),
        owner=owner,
        run_id=run_id,
        phase="PENDING",
        parameters=normalize_parameters(parameters),
        creation_time=utc_now(),
        execution_duration_s=_check_duration(execution_duration_s),
        destruction_time=naive_utc(destruction_time),
        overflow=False,
    )
    session.add(job)
    session.flush()
    return job


def get_job(session, job_id, user, is_admin=False):
    """Job ``job_id`` if ``user`` owns it (an admin sees every job); a job of someone else is
    reported as missing, so its existence is not revealed. A job of ``anonymous`` is reached by
    whoever holds its id: requests without a token share that name, so the unguessable id is
    their only credential."""
    job = session.get(TapJob, job_id) if isinstance(job_id, str) else None
    if job is None or (job.owner not in (user, ANONYMOUS) and not is_admin):
        raise NotFoundError(f"no job {job_id!r}")
    return job


def _check_phases(phases):
    checked = []
    for phase in phases:
        name = str(phase).strip().upper()
        if name not in PHASES:
            raise UserError(f"unknown job phase {phase!r} (expected one of {', '.join(PHASES)})")
        checked.append(name)
    return checked


def _check_last(last):
    if isinstance(last, str):
        try:
            last = int(last.strip())
        except ValueError:
            last = None
    if isinstance(last, bool) or not isinstance(last, int) or last < 1:
        raise UserError("LAST must be a positive whole number of jobs")
    return min(last, MAX_LAST)


def list_jobs(session, user, is_admin=False, phases=None, after=None, last=None):
    """Jobs of ``user`` (every user's for an admin) with the UWS 1.1 filters: ``phases`` (only
    these phases), ``after`` (created strictly after this time; a datetime or ISO 8601 text) and
    ``last`` (the ``last`` most recently created). ARCHIVED jobs are listed only when ``phases``
    asks for them. In creation order, except newest first with ``last``. ``anonymous`` (every
    request without a token) lists nothing, so one anonymous caller cannot find another's jobs."""
    phases = _check_phases(phases or ())
    after = None if after is None else parse_uws_time(after)
    last = None if last is None else _check_last(last)
    if user == ANONYMOUS and not is_admin:
        return []
    statement = select(TapJob)
    if not is_admin:
        statement = statement.where(TapJob.owner == user)
    if phases:
        statement = statement.where(TapJob.phase.in_(phases))
    else:
        statement = statement.where(TapJob.phase != "ARCHIVED")
    if after is not None:
        statement = statement.where(TapJob.creation_time > after)
    if last is not None:
        statement = statement.order_by(TapJob.creation_time.desc(), TapJob.id.desc()).limit(last)
    else:
        statement = statement.order_by(TapJob.creation_time, TapJob.id)
    return list(session.scalars(statement))


# -- phase changes ----------------------------------------------------------------------------

def _job_id(job):
    return job.id if isinstance(job, TapJob) else job


def _change_phase(session, job, allowed, values):
    """Set ``values`` on the job if its phase is one of ``allowed``. Returns (changed, the job
    reloaded from the database or None if it is gone)."""
    job_id = _job_id(job)
    result = session.execute(
        update(TapJob).where(TapJob.id == job_id, TapJob.phase.in_(allowed)).values(**values)
        .execution_options(synchronize_session="fetch"))
    current = session.get(TapJob, job_id, populate_existing=True)
    return result.rowcount == 1, current


def _refuse(job, action):
    return UserError(f"job {job.id} is {job.phase}: cannot {action} it")


def queue_job(session, job):
    """PENDING or HELD -> QUEUED (UWS PHASE=RUN). True if queued now (the caller hands it to a
    runner); False if it is already QUEUED or EXECUTING. ``job`` is a TapJob or a job id."""
    changed, current = _change_phase(session, job, QUEUEABLE, {"phase": "QUEUED"})
    if changed:
        return True
    if current is None:
        raise NotFoundError(f"no job {_job_id(job)!r}")
    if current.phase in ACTIVE:
        return False
    raise _refuse(current, "run")


def start_job(session, job):
    """QUEUED -> EXECUTING, with the start time. False, without change, if the job is no longer
    QUEUED (aborted or deleted meanwhile, or started by another runner)."""
    changed, current = _change_phase(session, job, ("QUEUED",), {"phase": "EXECUTING", "start_time": utc_now()})
    if changed or current is None:
        return changed
    if current.phase in QUEUEABLE:
        raise UserError(f"job {current.id} is {current.phase}: queue it before starting it")
    return False


def _finish(session, job, allowed, values, action):
    changed, current = _change_phase(session, job, allowed, {**values, "end_time": utc_now()})
    if changed or current is None or current.phase == "ABORTED":
        return changed
    raise _refuse(current, action)


def complete_job(session, job, result_path, result_mime, rows, overflow, query_id):
    """EXECUTING -> COMPLETED with its result file, MIME type, row count, overflow flag and
    query log id. False if the job was aborted or deleted while running (the caller then
    discards the result file)."""
    values = {"phase": "COMPLETED", "result_path": str(result_path), "result_mime": result_mime,
              "result_rows": rows, "overflow": bool(overflow), "query_id": query_id}
    return _finish(session, job, ("EXECUTING",), values, "complete")


def fail_job(session, job, message, query_id=None):
    """QUEUED or EXECUTING -> ERROR with the error message. False if the job was aborted or
    deleted meanwhile."""
    values = {"phase": "ERROR", "error_message": str(message), "query_id": query_id}
    return _finish(session, job, FAILABLE, values, "fail")


def abort_job(session, job):
    """Any phase but a final one -> ABORTED, with the end time. False (a no-op) if the job is
    already COMPLETED, ERROR, ABORTED or ARCHIVED."""
    changed, current = _change_phase(session, job, ABORTABLE, {"phase": "ABORTED", "end_time": utc_now()})
    if current is None:
        raise NotFoundError(f"no job {_job_id(job)!r}")
    return changed


def requeue_interrupted(session):
    """After a restart: EXECUTING jobs go back to QUEUED (their start time cleared); returns
    every QUEUED job in creation order, for the runner to take again."""
    session.execute(update(TapJob).where(TapJob.phase == "EXECUTING")
                    .values(phase="QUEUED", start_time=None).execution_options(synchronize_session="fetch"))
    return list(session.scalars(select(TapJob).where(TapJob.phase == "QUEUED")
                                .order_by(TapJob.creation_time, TapJob.id)))


# -- changes of a PENDING job and clean-up ----------------------------------------------------

def _check_pending(job, what):
    if job.phase != "PENDING":
        raise UserError(f"job {job.id} is {job.phase}: its {what} can only change while it is PENDING")


def set_execution_duration(session, job, seconds, maximum_s):
    """Set the execution duration of a PENDING job (UWS executionduration), at most
    ``maximum_s``; returns the value stored."""
    _check_pending(job, "execution duration")
    job.execution_duration_s = min(_check_duration(seconds), _check_duration(maximum_s))
    session.flush()
    return job.execution_duration_s


def set_destruction(session, job, when, latest):
    """Set the destruction time (a datetime or ISO 8601 text), at most ``latest``; returns the
    value stored."""
    job.destruction_time = min(parse_uws_time(when), naive_utc(latest))
    session.flush()
    return job.destruction_time


def set_parameters(session, job, parameters):
    """Add or replace parameters of a PENDING job; returns all its parameters."""
    _check_pending(job, "parameters")
    job.parameters = {**job.parameters, **normalize_parameters(parameters)}
    session.flush()
    return job.parameters


def delete_job(session, job):
    """Remove the job's row; returns its result path (None if none) for the caller to delete."""
    result_path = job.result_path
    session.delete(job)
    session.flush()
    return result_path


def expired_jobs(session, now=None):
    """Jobs whose destruction time has come (``<= now``, default the current time), oldest first."""
    now = utc_now() if now is None else naive_utc(now)
    return list(session.scalars(select(TapJob).where(TapJob.destruction_time <= now)
                                .order_by(TapJob.destruction_time, TapJob.id)))


def interrupted_jobs(session):
    """QUEUED or EXECUTING jobs in creation order: after a restart no runner holds them."""
    return list(session.scalars(select(TapJob).where(TapJob.phase.in_(ACTIVE))
                                .order_by(TapJob.creation_time, TapJob.id)))
