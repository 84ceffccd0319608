"""Alembic migrations of the central state (qserv.migrations); run through qserv.meta.store."""
