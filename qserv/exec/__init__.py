"""I/O to the workers: backends (DuckDB, PostgreSQL), dispatch, retries."""
