"""Separate PostgreSQL servers for tests: ``PostgresServers`` creates each with initdb in a
temporary directory, starts it with pg_ctl on a free 127.0.0.1 port (trust authentication, no
fsync), stops it (``stop(i)``: ``pg_ctl stop -m immediate``, a crash) or starts it again, and
removes everything at ``close()``. Run as root, the server commands run as user postgres."""

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile


def pg_bin(name):
    """Path of a PostgreSQL server program (on PATH, or the newest /usr/lib/postgresql/*/bin)."""
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if found is None:
        raise RuntimeError(f"{name} not found (PostgreSQL server programs are needed)")
    return found


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServers:
    def __init__(self, count):
        self.root = tempfile.mkdtemp(prefix="qserv-pg-")
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        os.chmod(self.root, 0o755)
        self.ports = [free_port() for _ in range(count)]
        self.folders = [os.path.join(self.root, f"server{i}") for i in range(count)]
        try:
            for folder in self.folders:
                os.mkdir(folder, 0o700)
                if self.as_user:
                    user = pwd.getpwnam("postgres")
                    os.chown(folder, user.pw_uid, user.pw_gid)
                self._run(pg_bin("initdb"), "-D", folder, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
            for i in range(count):
                self.start(i)
        except BaseException:
            self.close()
            raise

    def _run(self, *command):
        subprocess.run([*self.as_user, *command], check=True, capture_output=True, timeout=120)

    def dsn(self, i):
        return f"host=127.0.0.1 port={self.ports[i]} user=postgres dbname=postgres connect_timeout=5"

    def start(self, i):
        options = (f"-p {self.ports[i]} -k {self.folders[i]} -c listen_addresses=127.0.0.1 -c fsync=off "
                   f"-c shared_buffers=16MB -c max_connections=60")
        self._run(pg_bin("pg_ctl"), "-D", self.folders[i], "-o", options, "-l",
                  os.path.join(self.folders[i], "log"), "-w", "start")

    def stop(self, i):
        """Stop server ``i`` hard (no shutdown checkpoint: as a crash)."""
        self._run(pg_bin("pg_ctl"), "-D", self.folders[i], "-m", "immediate", "-w", "stop")

    def close(self):
        for folder in self.folders:
            if os.path.exists(os.path.join(folder, "postmaster.pid")):
                subprocess.run([*self.as_user, pg_bin("pg_ctl"), "-D", folder, "-m", "immediate", "stop"],
                               capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)
