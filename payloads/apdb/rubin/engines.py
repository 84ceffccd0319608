"""One open Engine per qserv home in this process, shared by every ApdbQserv and replica on it
(closed at exit, or by ``close_engine``)."""

import atexit
from pathlib import Path
import threading

import qserv

_ENGINES = {}
_LOCK = threading.Lock()


def engine_for(home):
    key = str(Path(home).resolve())
    with _LOCK:
        if key not in _ENGINES:
            _ENGINES[key] = qserv.open(key)
        return _ENGINES[key]


def close_engine(home):
    with _LOCK:
        engine = _ENGINES.pop(str(Path(home).resolve()), None)
    if engine is not None:
        engine.close()


@atexit.register
def _close_all():
    for home in list(_ENGINES):
        close_engine(home)
