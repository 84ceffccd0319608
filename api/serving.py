"""``qserv serve``: the TAP app under waitress, in one process or in several sharing one socket.

The listening socket is made first. With one process, this process serves it. With ``processes``
> 1 (PostgreSQL workers only: an embedded DuckDB worker file takes one process at a time), the
parent opens the instance once to check its workers and queue again the async jobs a previous
server left executing, closes it, and forks the serving processes: each opens its own Engine, read
only (the director index is one embedded DuckDB file, which several processes can hold only while
none writes it: the catalog is changed with one process), and runs waitress on the inherited socket (the kernel hands each connection to one of them). Process 0
also runs the jobs queued again and destroys expired jobs; every process looks at the central state
for job changes made by the others every ``PEER_POLL_S`` (an ABORT or DELETE sent to another
process cancels a running job; WAIT sees the others' phase changes). The parent forwards SIGTERM
and SIGINT to its children, waits for them and replaces one that dies after serving for a while.
"""

import logging
import os
import signal
import socket
import sys
import time

from qserv.errors import UserError

log = logging.getLogger(__name__)
PEER_POLL_S = 0.5
STARTUP_S = 10.0  # a serving process dying sooner than this stops the service (it would die again)
STOP_WAIT_S = 30.0


class _Stop(SystemExit):
    """Raised by the signal handlers to leave the serving loop (waitress then lets the requests in
    progress finish, for a few seconds)."""


def listen(host, port):
    """A listening TCP socket on ``host``:``port`` (``port`` 0: a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    return sock


def serve(home, sock, threads, processes=1):
    """Serve the TAP app on ``sock`` until SIGTERM or SIGINT; returns the exit status."""
    if processes == 1:
        return _serve_here(sock, threads, {"home": home}, "qserv")
    resume = _prepare_shared(home)
    return _Supervisor(home, sock, threads, processes, resume).run()


def _prepare_shared(home):
    """Check the instance can be served by several processes; the ids of the async jobs to run
    again (queued, or executing when the last server stopped)."""
    import qserv

    with qserv.open(home) as engine:
        embedded = sorted(worker.name for worker in engine.list_workers() if worker.backend == "duckdb")
        if embedded:
            raise UserError(f"--processes above 1 needs PostgreSQL workers; {', '.join(embedded)} "
                            f"{'is an embedded DuckDB worker' if len(embedded) == 1 else 'are embedded DuckDB workers'}"
                            f" (one process at a time): serve with --processes 1")
        return engine.tap_jobs.requeue_interrupted()


def _serve_here(sock, threads, settings, ident):
    """Run waitress on ``sock`` in this process until SIGTERM or SIGINT; ``ident`` is the value of
    the Server header."""
    import waitress

    from qserv.api.app import create_app

    previous = {number: signal.signal(number, _raise_stop) for number in (signal.SIGTERM, signal.SIGINT)}
    app = None
    try:
        app = create_app(settings)
        server = waitress.create_server(app, sockets=[sock], threads=threads, ident=ident, channel_timeout=3600)
        server.run()
    except _Stop:
        pass
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        if app is not None:  # the DBA job running finishes first: it uses the engine the TAP service closes
            for name in ("qserv_admin", "qserv"):
                app.extensions[name].close()
    return 0


def _raise_stop(number, _frame):
    raise _Stop(signal.Signals(number).name)


class _Supervisor:
    def __init__(self, home, sock, threads, processes, resume):
        self.home, self.sock, self.threads, self.processes, self.resume = home, sock, threads, processes, resume
        self.children = {}  # pid -> (index, start time)
        self.stopping = False

    def run(self):
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, self._stop)
        for index in range(self.processes):
            self._start(index)
        status = 0
        while self.children:
            try:
                pid, code = os.wait()
            except ChildProcessError:
                break
            index, started = self.children.pop(pid)
            code = os.waitstatus_to_exitcode(code)
            if self.stopping:
                continue
            if time.monotonic() - started < STARTUP_S:
                print(f"qserv serve: serving process {index} exited at its start (status {code}); stopping",
                      file=sys.stderr)
                status = 1
                self._stop(signal.SIGTERM, None)
            else:
                print(f"qserv serve: serving process {index} (pid {pid}) exited with status {code}; starting "
                      f"another", file=sys.stderr)
                self._start(index)
        signal.setitimer(signal.ITIMER_REAL, 0)  # every process is gone: no SIGKILL to send
        return status

    def _start(self, index):
        settings = {"home": self.home, "peer_poll_s": PEER_POLL_S, "read_only": True,
                    "resume_jobs": self.resume if index == 0 else [],
                    "cleanup_interval_s": 60 if index == 0 else None}
        self.resume = []  # jobs are resumed once; a replacement process starts with none
        pid = os.fork()
        if pid == 0:  # the child serves and never returns into the caller's code
            status = 1
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                status = _serve_here(self.sock, self.threads, settings, f"qserv (process {index})")
            except BaseException:
                log.exception("serving process %d failed", index)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(status)
        self.children[pid] = (index, time.monotonic())

    def _stop(self, _number, _frame):
        if self.stopping:
            return
        self.stopping = True
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        signal.signal(signal.SIGALRM, lambda *_: self._kill_all())
        signal.setitimer(signal.ITIMER_REAL, STOP_WAIT_S)

    def _kill_all(self):
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
