"""Which process owns an ingest transaction, and whether that process is still running.

A transaction records the host name, process id and process start time (Linux clock ticks since
boot, from /proc; None elsewhere) of the process that began it. The start time tells a live owner
from a later process that reuses its pid.
"""

import os
import socket


def process_start(pid):
    """The start time of process ``pid`` in clock ticks since boot, or None if unknown; -1 for a
    process that has exited but was not yet reaped (a zombie)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return -1 if fields[0] == b"Z" else int(fields[19])


def current_owner():
    """(host, pid, start) of this process."""
    return socket.gethostname(), os.getpid(), process_start(os.getpid())


def owner_gone(host, pid, start):
    """Whether the owner (host, pid, start) is known to have stopped: it ran on this host and no
    process with that pid and start time runs now. Owners on other hosts are never known gone."""
    if host != socket.gethostname() or pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # a process of another user has the pid
        pass
    now = process_start(pid)
    return now == -1 or (start is not None and now is not None and now != start)


def owner_running(host, pid, start):
    """Whether the owner (host, pid, start) is known to be a live process on this host."""
    return host == socket.gethostname() and pid is not None and not owner_gone(host, pid, start)
