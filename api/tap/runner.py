"""Executing async TAP jobs: a thread pool takes QUEUED jobs, runs their query with the job's
execution duration as the time limit, writes the result file and records the outcome. ABORT
cancels the running query on the workers. A job's files live in ``<jobs dir>/<job id>/``.
Requests blocked in WAIT (``waits``) are woken after every phase change the runner commits.
When other processes serve the same instance (``peer_poll_s``), the runner also reads the phases of
its running jobs that often and cancels those another process aborted or deleted."""

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
import shutil
import threading

import pyarrow.parquet as pq

from qserv.api.tap.auth import Caller
from qserv.api.tap.execute import run_query
from qserv.api.tap.formats import output_format, result_chunks
from qserv.api.tap.params import query_parameters
from qserv.api.tap.waits import JobWaits
from qserv.errors import QservError
from qserv.exec.cancel import Cancellation

log = logging.getLogger(__name__)
UPLOAD_PREFIX = "upload_"


class JobRunner:
    def __init__(self, engine, jobs_dir, threads, peer_poll_s=None):
        self.engine = engine
        self.jobs_dir = Path(jobs_dir)
        self.peer_poll_s = peer_poll_s
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="tap-job")
        self._running = {}  # job id -> Cancellation
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.waits = JobWaits(engine.settings["tap_waiters"])
        if peer_poll_s:
            threading.Thread(target=self._watch_peers, name="tap-job-watch", daemon=True).start()

    def job_dir(self, job_id):
        return self.jobs_dir / job_id

    def save_uploads(self, job_id, uploads):
        folder = self.job_dir(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        for name, table in uploads.items():
            pq.write_table(table, folder / f"{UPLOAD_PREFIX}{name}.parquet")

    def upload_names(self, job_id):
        folder = self.job_dir(job_id)
        return sorted(p.stem[len(UPLOAD_PREFIX):] for p in folder.glob(f"{UPLOAD_PREFIX}*.parquet"))

    def _uploads(self, job_id):
        folder = self.job_dir(job_id)
        return {name: pq.read_table(folder / f"{UPLOAD_PREFIX}{name}.parquet") for name in self.upload_names(job_id)}

    def submit(self, job_id):
        """Run a job just QUEUED (committed) when a thread is free."""
        self.waits.changed(job_id)
        self._pool.submit(self._execute, job_id)

    def abort(self, job_id):
        """Cancel the job's query if it is running now."""
        with self._lock:
            cancellation = self._running.get(job_id)
        if cancellation is not None:
            cancellation.cancel("the job was aborted")
        self.waits.changed(job_id)

    def remove_files(self, job_id):
        self.abort(job_id)
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)

    def shutdown(self):
        self._stopping.set()
        with self._lock:
            running = list(self._running.values())
        for cancellation in running:
            cancellation.cancel("the service is shutting down")
        self.waits.close()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _watch_peers(self):
        """Cancel the running jobs another serving process aborted or deleted."""
        while not self._stopping.wait(self.peer_poll_s):
            with self._lock:
                running = dict(self._running)
            if not running:
                continue
            try:
                phases = self.engine.tap_jobs.phases(running)
            except Exception:  # the central state is unreachable now: look again later
                log.exception("reading the phases of running jobs failed")
                continue
            for job_id, cancellation in running.items():
                if phases.get(job_id) != "EXECUTING":
                    cancellation.cancel("the job was aborted")

    def _execute(self, job_id):
        job = self.engine.tap_jobs.start(job_id)
        if job is None:
            return
        parameters, owner, duration_s = dict(job.parameters), job.owner, job.execution_duration_s
        self.waits.changed(job_id)
        cancellation = Cancellation(duration_s)
        with self._lock:
            self._running[job_id] = cancellation
        try:
            self._run(job_id, parameters, owner, cancellation)
        except QservError as error:
            self._fail(job_id, str(error))
        except Exception as error:  # a bug: the job fails with the reason, the service goes on
            log.exception("async job %s failed", job_id)
            self._fail(job_id, f"internal error: {error!r}")
        finally:
            with self._lock:
                self._running.pop(job_id, None)
            self.waits.changed(job_id)

    def _run(self, job_id, parameters, owner, cancellation):
        query = query_parameters(parameters)
        output = output_format(query.response_format)
        table, overflow = run_query(self.engine, query, Caller(owner), self._uploads(job_id), None, cancellation)
        folder = self.job_dir(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"result.{output.extension}"
        partial = path.with_suffix(".partial")
        with open(partial, "wb") as out:
            for piece in result_chunks(table, output, overflow):
                out.write(piece)
        partial.replace(path)
        if not self.engine.tap_jobs.complete(job_id, path, output.mime, table.num_rows, overflow):
            path.unlink(missing_ok=True)

    def _fail(self, job_id, message):
        self.engine.tap_jobs.fail(job_id, message)
