"""Lookups over the central state with clear errors for names that do not exist."""

from sqlalchemy import select

from qserv.errors import NotFoundError, UserError
from qserv.meta.models import Database, Table, Transaction, Worker
from qserv.schema.columns import Column, check_identifier


def split_table_name(qualified, default_database=None):
    """'DB.TABLE' -> (DB, TABLE); a bare TABLE needs ``default_database``."""
    parts = qualified.split(".")
    if len(parts) == 2:
        database, table = parts
    elif len(parts) == 1 and default_database:
        database, table = default_database, parts[0]
    else:
        raise UserError(f"table name {qualified!r} must be qualified as DATABASE.TABLE")
    return check_identifier(database, "database"), check_identifier(table, "table")


def get_database(session, name):
    database = session.scalar(select(Database).where(Database.name == name))
    if database is None:
        known = session.scalars(select(Database.name).order_by(Database.name)).all()
        raise NotFoundError(f"no database {name!r} (databases: {', '.join(known) or 'none'})")
    return database


def get_table(session, database_name, table_name):
    database = get_database(session, database_name)
    table = session.scalar(
        select(Table).where(Table.database_id == database.id, Table.name == table_name)
    )
    if table is None:
        known = [t.name for t in database.tables]
        raise NotFoundError(
            f"no table {table_name!r} in database {database_name!r} "
            f"(tables: {', '.join(known) or 'none'})"
        )
    return table


def get_transaction(session, transaction_id):
    transaction = session.get(Transaction, int(transaction_id))
    if transaction is None:
        raise NotFoundError(f"no transaction {transaction_id}")
    return transaction


def active_workers(session):
    return session.scalars(select(Worker).where(Worker.state == "active").order_by(Worker.id)).all()


def table_columns(table):
    return [Column.from_dict(data) for data in table.columns]
