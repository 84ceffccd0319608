"""qserv: a spatially sharded catalog database for astronomy."""

__version__ = "0.1.0"


def open(home=None, read_only=False):  # noqa: A001 - qserv.open(home) is the documented API
    """Open the instance in ``home`` (default: $QSERV_HOME or ./qserv-home); ``read_only``: for
    queries only, so that several processes can hold it (the director index file is shared)."""
    from qserv.engine import Engine

    return Engine(home, read_only=read_only)
