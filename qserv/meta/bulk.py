"""Fast multi-row inserts into the central state through the driver's executemany (the ORM's
per-row bookkeeping costs seconds for the hundreds of thousands of chunks of an all-sky load)."""

import json


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


def bulk_insert_values(session, table, fixed, column, values, ignore_conflicts=False):
    """Insert one row per integer in ``values`` (its ``column``), every other column taken from
    ``fixed`` ({column: value}). On SQLite the values travel as one JSON array read by json_each
    (a few times cheaper than executemany for the hundreds of thousands of chunks of an all-sky
    load); elsewhere through ``bulk_insert``."""
    values = [int(value) for value in values]
    names = list(fixed)
    if session.connection().dialect.name != "sqlite":
        bulk_insert(session, table, (*names, column), [(*fixed.values(), value) for value in values],
                    ignore_conflicts)
        return
    if not values:
        return
    sql = (f"INSERT INTO {table} ({', '.join([*names, column])}) "
           f"SELECT {', '.join(['?'] * len(names) + ['value'])} FROM json_each(?) WHERE 1"
           + (" ON CONFLICT DO NOTHING" if ignore_conflicts else ""))
    session.connection().exec_driver_sql(sql, (*fixed.values(), json.dumps(values)))
