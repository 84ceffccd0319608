"""``qserv explain``: how a query runs, as text (the plan, the chunks, worker and merge SQL)."""

from qserv.exec.executor import reads_no_rows
from qserv.query.plan import ChunkPlan, CzarPlan, SubqueryPlan
from qserv.query.render import worker_sql
from qserv.sql.emit import to_sql

SHOWN_CHUNKS = 20


def _indent(text, prefix="    "):
    return "\n".join(prefix + line for line in text.splitlines())


def _chunk_list(chunks):
    shown = ", ".join(str(c) for c in chunks[:SHOWN_CHUNKS])
    return shown + (f", ... ({len(chunks) - SHOWN_CHUNKS} more)" if len(chunks) > SHOWN_CHUNKS else "")


def _explain_chunks(plan, run):
    lines = ["plan: per-chunk statements on the workers, merged at the czar"]
    for alias, info in plan.aliases.items():
        reads = ("all rows (replicated)" if not info.sharded else
                 "own + overlap rows" if alias == plan.overlap_alias else "own rows")
        lines.append(f"table: {info.key} AS {alias} ({info.kind}, {reads})")
    for restrictor in plan.restrictors:
        lines.append(f"spatial restrictor on {restrictor.table}: {restrictor.region!r}")
    for director, values in plan.key_lookups:
        lines.append(f"director-key restriction: {len(values)} {director.id_column} value(s) of {director.key}")
    if plan.bucket_range is not None:
        lines.append(f"time buckets {plan.bucket_range.low}..{plan.bucket_range.high}")
    if plan.buckets is not None:
        lines.append(f"hash buckets {list(plan.buckets)}")
    chunks, _ = run.selected_chunks(plan)
    populated = len(run.snapshot.chunk_map.table_counts(plan.chunk_tables))
    lines.append(f"chunks: {len(chunks)} of {populated} populated: {_chunk_list(chunks.tolist())}")
    if plan.count_table is not None:
        lines.append(f"answer: the sum of the row counters of {plan.count_table.key} (no worker reads)")
        return lines
    if reads_no_rows(plan, chunks):
        lines.append("answer: no chunk can hold a matching row; the czar evaluates the query over no rows "
                     "(no worker reads)")
        return lines
    statements = run.statements(plan, next(iter(plan.chunk_tables)).database, chunks)
    per_worker = {}
    for statement in statements:
        per_worker.setdefault(statement.worker.name, []).append(statement.chunks)
    lines.append("worker statements: " + ", ".join(
        f"{name}: {len(batches)} ({sum(batches)} chunks)" for name, batches in per_worker.items()))
    if plan.row_limit is not None:
        lines.append(f"row limit: dispatch stops once {plan.row_limit} rows arrived")
    first = statements[0]
    lines.append(f"worker SQL ({first.worker.name}, {first.worker.backend}):")
    lines.append(_indent(first.sql))
    lines.append("merge SQL (czar, DuckDB):")
    lines.append(_indent(to_sql(plan.merge, "duckdb")))
    return lines


def explain_plan(plan, run):
    if isinstance(plan, ChunkPlan):
        return "\n".join(_explain_chunks(plan, run))
    if isinstance(plan, SubqueryPlan):
        lines = ["plan: subqueries answered first, their values substituted, then the query planned again",
                 "query:", _indent(plan.tree.sql("duckdb"))]
        for name, (kind, part) in plan.subqueries.items():
            lines.append(f"{kind} subquery {name}:")
            lines.append(_indent(explain_plan(part, run)))
        return "\n".join(lines)
    if isinstance(plan, CzarPlan):
        lines = ["plan: evaluated at the czar (DuckDB)", "czar SQL:", _indent(to_sql(plan.tree, "duckdb"))]
        for name, part in plan.inputs.items():
            lines.append(f"input {name}:")
            lines.append(_indent(explain_plan(part, run)))
        return "\n".join(lines)
    worker = run.worker_for(min(run.snapshot.workers))
    return "\n".join([
        "plan: replicated tables only, the whole query on one worker",
        f"worker SQL ({worker.name}, {worker.backend}):",
        _indent(worker_sql(plan, (), worker.backend, run.snapshot.hidden_transactions))])
