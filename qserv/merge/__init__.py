"""Merging partial results at the czar (DuckDB over Arrow)."""
