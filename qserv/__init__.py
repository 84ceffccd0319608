"""qserv: a spatially sharded catalog database for astronomy."""

__version__ = "0.1.0"


def open(home=None):  # noqa: A001 - qserv.open(home) is the documented API
    """Open the instance in ``home`` (default: $QSERV_HOME or ./qserv-home)."""
    from qserv.engine import Engine

    return Engine(home)
