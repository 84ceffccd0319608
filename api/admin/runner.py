"""Runs the jobs of the DBA REST API one at a time on a thread of the server (chunk moves of two
operations must not interleave), writing each job's progress to the central state as it goes."""

from concurrent.futures import ThreadPoolExecutor
import logging
import time

from qserv.errors import QservError
from qserv.meta import jobs

log = logging.getLogger(__name__)
PROGRESS_WRITE_S = 0.5  # progress is written at most this often (and at the end)


class AdminJobs:
    def __init__(self, engine):
        self.engine = engine
        self.threads = ThreadPoolExecutor(1, thread_name_prefix="qserv-admin-job")
        with engine.store.session() as session:
            jobs.fail_interrupted(session)

    def submit(self, kind, target, owner, operation):
        """Queue ``operation(progress)`` as a new job; returns its id. ``operation`` returns the
        job's JSON-able result; a QservError it raises fails the job with its message."""
        with self.engine.store.session() as session:
            job_id = jobs.create_job(session, kind, target, owner).id
        self.threads.submit(self._run, job_id, operation)
        return job_id

    def _run(self, job_id, operation):
        store = self.engine.store
        counts = {"done": 0, "total": 0, "written": 0.0}

        def progress(advance, more_total=0):
            counts["done"] += advance
            counts["total"] += more_total
            if time.monotonic() - counts["written"] >= PROGRESS_WRITE_S:
                counts["written"] = time.monotonic()
                with store.session() as session:
                    jobs.record_progress(session, job_id, counts["done"], counts["total"])

        with store.session() as session:
            jobs.start(session, job_id)
        result, error = None, None
        try:
            result = operation(progress)
        except QservError as exc:
            error = str(exc)
        except Exception as exc:  # a bug: the job fails with it, the server keeps serving
            log.exception("admin job %s failed", job_id)
            error = f"internal error: {exc!r}"
        with store.session() as session:
            jobs.record_progress(session, job_id, counts["done"], counts["total"])
            jobs.finish(session, job_id, result=result, error=error)

    def close(self):
        self.threads.shutdown(wait=True, cancel_futures=True)
