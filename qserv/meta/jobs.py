"""Jobs of the DBA REST API in the central state: created queued, run by one thread of the
server (api/admin/runner.py), their progress (``done`` of ``total`` steps) written as they go.

Pure functions over a SQLAlchemy session (the caller owns the transaction). A job left queued or
running by a server that stopped is marked failed at the next start (:func:`fail_interrupted`);
the operations themselves are crash-safe (qserv.exec.moves), so running it again finishes it.
"""

from sqlalchemy import select

from qserv.errors import NotFoundError
from qserv.meta.models import AdminJob, utc_now

KINDS = ("drain", "rebalance", "replicate", "verify", "commit")
FINISHED = ("done", "failed")


def create_job(session, kind, target, owner):
    if kind not in KINDS:
        raise ValueError(kind)
    job = AdminJob(kind=kind, target=str(target), owner=owner, state="queued", done=0, total=0, errors=[])
    session.add(job)
    session.flush()
    return job


def get_job(session, job_id):
    job = session.get(AdminJob, job_id)
    if job is None:
        raise NotFoundError(f"no job {job_id}")
    return job


def list_jobs(session, limit=100):
    """The newest ``limit`` jobs, newest first."""
    return list(session.scalars(select(AdminJob).order_by(AdminJob.id.desc()).limit(limit)))


def start(session, job_id):
    job = get_job(session, job_id)
    job.state, job.started_at = "running", utc_now()


def record_progress(session, job_id, done, total):
    job = get_job(session, job_id)
    job.done, job.total = done, max(total, done)


def finish(session, job_id, result=None, error=None):
    """Mark a job done (with its JSON-able ``result``) or failed (with ``error``)."""
    job = get_job(session, job_id)
    job.state = "failed" if error else "done"
    job.result = result
    if error:
        job.errors = [*job.errors, error]
    job.ended_at = utc_now()


def fail_interrupted(session):
    """Mark the jobs a stopped server left queued or running failed; returns their ids."""
    jobs = session.scalars(select(AdminJob).where(AdminJob.state.not_in(FINISHED))).all()
    for job in jobs:
        finish(session, job.id, error="interrupted: the server stopped; run the operation again")
    return [job.id for job in jobs]


def job_json(job):
    """The JSON document of a job (as /admin/v1/jobs/{id} returns it)."""
    def when(value):
        return None if value is None else value.isoformat(timespec="seconds") + "Z"

    return {"id": job.id, "kind": job.kind, "target": job.target, "owner": job.owner, "state": job.state,
            "done": job.done, "total": job.total, "errors": list(job.errors or []), "result": job.result,
            "created": when(job.created_at), "started": when(job.started_at), "ended": when(job.ended_at)}
