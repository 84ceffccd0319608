"""Access to the compiled Cython kernels, failing loudly when they are not built.

There is no silent fallback to the numpy reference implementations: a missing build is an
installation error, and this module says how to fix it.
"""

import importlib

from qserv.errors import KernelsMissingError

BUILD_HINT = (
    "qserv's compiled kernels (qserv._ext) are not built. Install the project so that setup.py "
    "compiles cython_ext/: `pip install -e .` in a checkout (or `make test`, which does it), or "
    "`pip install qserv-*.whl`."
)


def load(name):
    """Import and return the compiled kernel module ``qserv._ext.<name>``."""
    try:
        return importlib.import_module(f"qserv._ext.{name}")
    except ImportError as exc:
        raise KernelsMissingError(f"{BUILD_HINT} (import of qserv._ext.{name} failed: {exc})") from exc
