"""`qserv index create|drop|list DB.TABLE [COLUMN]`: secondary indexes on every worker
(qserv.chunk_indexes); through a server with --url."""

import click


def _engine(context):
    from qserv.cli import _engine as open_engine

    return open_engine(context)


@click.group("index")
def index_group():
    """Secondary indexes of a column on every worker's copy of a table."""


@index_group.command("create")
@click.argument("qualified_name", metavar="DB.TABLE")
@click.argument("column")
@click.pass_context
def index_create(context, qualified_name, column):
    """Index COLUMN of DB.TABLE on every worker (and on workers added later)."""
    with _engine(context) as engine:
        workers = engine.create_index(qualified_name, column)
    click.echo(f"indexed {qualified_name}.{column} on {len(workers)} worker(s)")


@index_group.command("drop")
@click.argument("qualified_name", metavar="DB.TABLE")
@click.argument("column")
@click.pass_context
def index_drop(context, qualified_name, column):
    """Drop the index of COLUMN of DB.TABLE on every worker."""
    with _engine(context) as engine:
        workers = engine.drop_index(qualified_name, column)
    click.echo(f"dropped the index of {qualified_name}.{column} on {len(workers)} worker(s)")


@index_group.command("list")
@click.argument("qualified_name", metavar="DB.TABLE")
@click.pass_context
def index_list(context, qualified_name):
    """Indexed columns of DB.TABLE and the workers holding each index."""
    with _engine(context) as engine:
        found = engine.indexes(qualified_name)
    if not found:
        click.echo(f"no indexes on {qualified_name}")
        return
    click.echo("column\tworkers")
    for column, workers in sorted(found.items()):
        click.echo(f"{column}\t{','.join(workers)}")
