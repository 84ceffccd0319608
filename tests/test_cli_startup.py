"""CLI start time (issue 13, item 5): heavy libraries are imported only by the commands using them."""

import json
import subprocess
import sys

import pytest

from qserv.lazy import LazyModule

HEAVY = ("duckdb", "sqlglot", "astropy", "healpy", "sqlalchemy", "alembic", "pyarrow", "flask")


def imported_after(code):
    """The HEAVY modules present in sys.modules after running ``code`` in a fresh interpreter."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_importing_the_cli_imports_no_heavy_library():
    assert imported_after("import qserv, qserv.cli") == []


def test_help_imports_no_heavy_library():
    code = ("import contextlib, io\nfrom qserv.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            "    main(['--help'])")
    assert imported_after(code) == []


def test_the_engine_does_not_import_healpy_astropy_or_alembic():
    loaded = imported_after("import qserv.engine")
    assert "healpy" not in loaded and "astropy" not in loaded and "alembic" not in loaded
    assert "duckdb" in loaded  # the probe can see what it looks for


def test_lazy_module_imports_on_first_attribute():
    assert imported_after("from qserv.lazy import healpy") == []
    assert "healpy" in imported_after("from qserv.lazy import healpy\nhealpy.nside2npix(1)")
    module = LazyModule("json")
    assert module.dumps([1]) == "[1]" and "dumps" in vars(module)
    with pytest.raises(AttributeError):
        module.__wrapped__
    with pytest.raises(AttributeError):
        module.no_such_function
