"""The facade of TAP async jobs (``Engine.tap_jobs``): each call is one transaction of the central
state, so the TAP service never holds a session (the rules: ``qserv.meta.tap_jobs``). Jobs are
returned detached, with every column loaded. Every process serving the same instance sees the same
jobs: a phase change made by one is read by the others at their next call."""

from datetime import timedelta

from sqlalchemy import select

from qserv.meta.models import TapJob, utc_now
from qserv.meta.tap_jobs import (
    abort_job, complete_job, create_job, delete_job, expired_jobs, fail_job, get_job, list_jobs, queue_job,
    requeue_interrupted, set_destruction, set_execution_duration, set_parameters, start_job,
)


class TapJobStore:
    """Jobs of one instance; ``settings`` gives the default execution duration
    (``tap_async_duration_s``), its maximum (``query_timeout_s``) and the lifetime of a job
    (``tap_job_lifetime_s``)."""

    def __init__(self, store, settings):
        self._store = store
        self._settings = settings

    def create(self, owner, parameters, run_id=None, execution_duration_s=None, destruction=None):
        """A new PENDING job of ``owner`` with its query ``parameters``; ``execution_duration_s``
        (at most the maximum) and ``destruction`` (a time, at most the lifetime after creation)
        replace the defaults when given."""
        with self._store.session() as session:
            job = create_job(session, owner, parameters, self._settings["tap_async_duration_s"],
                             utc_now() + self._lifetime(), run_id=run_id)
            self._set_times(session, job, execution_duration_s, destruction)
            return job

    def get(self, job_id, user, is_admin=False):
        """Job ``job_id`` as ``user`` sees it (``qserv.meta.tap_jobs.get_job``)."""
        with self._store.session() as session:
            return get_job(session, job_id, user, is_admin)

    def list(self, user, is_admin=False, phases=None, after=None, last=None):
        """The jobs ``user`` sees, with the UWS filters (``qserv.meta.tap_jobs.list_jobs``)."""
        with self._store.session() as session:
            return list_jobs(session, user, is_admin, phases=phases, after=after, last=last)

    def update(self, job_id, user, is_admin=False, execution_duration_s=None, destruction=None, parameters=None):
        """Change the times and add parameters of a job ``user`` sees (parameters and duration
        only while it is PENDING); all or nothing. Returns the job."""
        with self._store.session() as session:
            job = get_job(session, job_id, user, is_admin)
            self._set_times(session, job, execution_duration_s, destruction)
            if parameters:
                set_parameters(session, job, parameters)
            return job

    def queue(self, job_id, user=None, is_admin=False):
        """PENDING or HELD -> QUEUED; True if queued now (the caller hands it to a runner). With
        ``user``, only a job that user sees."""
        with self._store.session() as session:
            if user is not None:
                get_job(session, job_id, user, is_admin)
            return queue_job(session, job_id)

    def abort(self, job_id, user, is_admin=False):
        """ABORT a job ``user`` sees (a no-op in a final phase); True if aborted now."""
        with self._store.session() as session:
            return abort_job(session, get_job(session, job_id, user, is_admin))

    def delete(self, job_id, user, is_admin=False, remove_files=None):
        """Abort and delete a job ``user`` sees; ``remove_files(job_id)`` is called in between
        (the row goes only if it succeeds)."""
        with self._store.session() as session:
            job = get_job(session, job_id, user, is_admin)
            abort_job(session, job)
            if remove_files is not None:
                remove_files(job_id)
            delete_job(session, job)

    def start(self, job_id):
        """QUEUED -> EXECUTING: the job, or None if it is gone or no longer QUEUED."""
        with self._store.session() as session:
            job = session.get(TapJob, job_id)
            return job if job is not None and start_job(session, job) else None

    def phases(self, job_ids):
        """{job id: its phase now} of those of ``job_ids`` that still exist."""
        with self._store.session() as session:
            return dict(session.execute(select(TapJob.id, TapJob.phase).where(TapJob.id.in_(list(job_ids)))).all())

    def complete(self, job_id, result_path, result_mime, rows, overflow):
        """EXECUTING -> COMPLETED with its result; False if it was aborted or deleted meanwhile."""
        with self._store.session() as session:
            return complete_job(session, job_id, str(result_path), result_mime, rows, overflow, None)

    def fail(self, job_id, message):
        """QUEUED or EXECUTING -> ERROR with ``message``; False if it was aborted or deleted."""
        with self._store.session() as session:
            return fail_job(session, job_id, message)

    def requeue_interrupted(self):
        """After a restart: ids of the QUEUED jobs (EXECUTING ones queued again), oldest first."""
        with self._store.session() as session:
            return [job.id for job in requeue_interrupted(session)]

    def destroy_expired(self, remove_files):
        """Delete the jobs whose destruction time has passed, calling ``remove_files(job_id)``
        for each first; returns their ids."""
        with self._store.session() as session:
            expired = expired_jobs(session)
            for job in expired:
                remove_files(job.id)
                delete_job(session, job)
            return [job.id for job in expired]

    def _lifetime(self):
        return timedelta(seconds=self._settings["tap_job_lifetime_s"])

    def _set_times(self, session, job, execution_duration_s, destruction):
        if execution_duration_s is not None:
            set_execution_duration(session, job, execution_duration_s, self._settings["query_timeout_s"])
        if destruction is not None:
            set_destruction(session, job, destruction, job.creation_time + self._lifetime())
