"""The qserv command line run as a user runs it (a new process), for the CLI tests."""

import subprocess
import sys


def run(home, *args, text=True):
    """``qserv --home HOME ARGS...``; its CompletedProcess (stdout and stderr as text, or bytes)."""
    return subprocess.run([sys.executable, "-m", "qserv.cli", "--home", str(home), *args],
                          capture_output=True, text=text, timeout=300)


def ok(result):
    assert result.returncode == 0, result.stderr
    return result.stdout


def user_error(result, *fragments):
    """A user error: exit status 2, no traceback, each fragment said on stderr; returns stderr."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    return result.stderr
