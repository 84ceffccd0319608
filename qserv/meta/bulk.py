"""Fast multi-row inserts into the central state through the driver's executemany (the ORM's
per-row bookkeeping costs seconds for the hundreds of thousands of chunks of an all-sky load)."""


def bulk_insert(session, table, columns, rows, ignore_conflicts=False):
    """Insert ``rows`` (tuples in ``columns`` order) into ``table``; with ``ignore_conflicts``,
    rows that violate a unique key are skipped (ON CONFLICT DO NOTHING, SQLite and PostgreSQL)."""
    if not rows:
        return
    connection = session.connection()
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    sql = (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([marker] * len(columns))})"
           + (" ON CONFLICT DO NOTHING" if ignore_conflicts else ""))
    connection.exec_driver_sql(sql, rows)
