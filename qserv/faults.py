"""Fault injection for crash tests: ``QSERV_FAULT=<point>`` makes the process exit abruptly
(``os._exit``, no cleanup, no flushing) when it reaches ``crash_point(<point>)``.

Points: contribution-partly-loaded, contribution-loaded, commit-before-state,
commit-after-state, abort-mid.
"""

import os

FAULT_ENV = "QSERV_FAULT"
CRASH_EXIT_CODE = 86


def crash_point(name):
    if os.environ.get(FAULT_ENV) == name:
        os._exit(CRASH_EXIT_CODE)
