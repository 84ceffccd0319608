"""qserv: a spatially sharded catalog database for astronomy."""

__version__ = "0.1.0"
