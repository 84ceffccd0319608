"""The planner's driver (pure, no I/O): a resolved query tree -> the plans that answer it.

``plan_query(tree, tables)`` takes a resolved tree whose Qserv areaspecs are already
point-in-region predicates (``rewrite_areaspecs``, run once by the engine's front end) and
sequences the rules:

1. By what the query reads:
   - no catalog table, or inline tables only (TAP_SCHEMA, uploads: ``qserv.query.inline``): a
     ``CzarPlan`` evaluated by the czar alone (``SELECT 1 + 1``);
   - replicated tables only: a ``ReplicatedPlan``, the whole query on one worker;
   - one SELECT over sharded tables (no subquery, no WITH): a ``ChunkPlan`` (below);
   - otherwise (set operations, WITH, derived tables): a ``CzarPlan`` whose inputs are the plans
     of the parts that read catalog tables, each replaced by ``SELECT * FROM _qserv_m<k>`` and
     materialised before the czar runs the rest. A SELECT that reads catalog tables and also a
     derived table or a subquery is refused.
2. A ``ChunkPlan``: ``join_shape`` (chunk-local joins), spatial restrictors and director-key
   restrictions of the chunk-defining aliases, time and hash buckets, ``split_aggregates`` (worker
   template, merge statement and its typed ``MergeSpec`` read by the czar's merge kernels),
   ``SELECT COUNT(*) FROM t`` from the chunk row counters, and
   the row limit that lets dispatch stop early, and the routing of an inline list of positions
   joined by distance (``inline_crossmatch``).
"""

from dataclasses import dataclass, field

import numpy as np
from sqlglot import exp

from qserv.errors import UnsupportedQueryError
from qserv.query.aggregates import PARTIALS, split_aggregates
from qserv.query.director_keys import director_key_restrictions
from qserv.query.float_sums import widen_float_sums
from qserv.query.joins import inline_crossmatch, join_shape, source_tables, table_key
from qserv.query.merge_spec import CONCAT, PROJECTION, MergeSpec
from qserv.query.partition_keys import hash_buckets, time_bucket_range
from qserv.query.restrictors import chunks_for, spatial_restrictors
from qserv.query.subqueries import extract_subqueries
from qserv.sql.chunk_columns import chunk_restriction
from qserv.storage import CHUNK_COLUMN

MATERIALISED = "_qserv_m"
ZONE_COLUMN = "_qserv_zone"
MIN_ZONE_HEIGHT_DEG = 1e-6  # zones of a near-neighbour join are the radius high, at least this
_QUERIES = (exp.Select, exp.Union, exp.Intersect, exp.Except)


@dataclass
class ChunkPlan:
    """One SELECT over sharded tables, run per worker batch of chunks and merged."""

    select: exp.Select  # the resolved query (areaspecs rewritten)
    worker: exp.Select  # template over catalog tables (see qserv.query.render)
    merge: exp.Select  # over PARTIALS (run by the czar's DuckDB unless the kernels answer merge_spec)
    merge_spec: MergeSpec  # what ``merge`` computes, typed (qserv.query.merge_spec)
    aliases: dict  # alias -> TableInfo
    overlap_alias: str | None  # reads own + overlap rows
    near_alias: str | None  # its near-neighbour partner
    chunk_tables: list  # TableInfo whose chunks are "all chunks" (the primary sharded aliases)
    spatial_chunks: np.ndarray | None = None  # allowed by spatial restrictors and WHERE chunkId (None: any)
    key_lookups: list = field(default_factory=list)  # [(director TableInfo, frozenset of ids)]
    bucket_range: object = None  # BucketRange of a time table
    buckets: np.ndarray | None = None  # allowed buckets of a hash table
    row_limit: int | None = None  # dispatch may stop once this many rows arrived
    count_table: object = None  # TableInfo when the answer is the sum of its chunk row counters
    restrictors: list = field(default_factory=list)
    crossmatch: object = None  # InlineCrossmatch: chunks and inline rows routed by position
    zone_height_deg: float | None = None  # near-neighbour pairs are matched by declination zone

    @property
    def kind(self):
        return "counters" if self.count_table is not None else "chunks"


@dataclass
class ReplicatedPlan:
    """A query over replicated tables only: the whole statement on one worker."""

    tree: exp.Expression
    tables: list  # TableInfo of the replicated tables it reads

    kind = "replicated"


@dataclass
class CzarPlan:
    """``tree`` evaluated by the czar over the materialised results of ``inputs`` (name -> plan)."""

    tree: exp.Expression
    inputs: dict = field(default_factory=dict)

    kind = "czar"


@dataclass
class SubqueryPlan:
    """``tree`` with its expression subqueries replaced by placeholders; the executor answers
    ``subqueries`` (name -> (kind, plan)) first, substitutes the values and plans ``tree`` again."""

    tree: exp.Expression
    subqueries: dict

    kind = "subqueries"


def catalog_tables(tree, tables):
    """The TableInfo of every catalog table ``tree`` reads (CTE names are not tables)."""
    return [tables[table_key(t)] for t in tree.find_all(exp.Table) if table_key(t) in tables]


def plan_query(tree, tables):
    """The plan answering ``tree`` (resolved by ``resolve_identifiers``, areaspecs rewritten; not
    changed). ``tables`` maps "db.table" -> TableInfo for every catalog table."""
    return _plan(widen_float_sums(tree.copy(), tables), tables, [0])


def _plan(tree, tables, counter):
    read = catalog_tables(tree, tables)
    if all(info.inline for info in read):
        return CzarPlan(tree)
    if isinstance(tree, exp.Select) and any(info.sharded for info in read):
        found = extract_subqueries(tree, tables, counter)
        if found:
            return SubqueryPlan(tree, {name: (kind, _plan(query, tables, counter))
                                       for name, (kind, query) in found.items()})
    if not any(info.sharded for info in read):
        return ReplicatedPlan(tree, list({info.key: info for info in read}.values()))
    if isinstance(tree, exp.Select) and _is_simple(tree):
        return _chunk_plan(tree, tables)
    inputs = {}
    _compose(tree, tables, counter, inputs)
    return CzarPlan(tree, inputs)


def _is_simple(select):
    if select.args.get("with_"):
        return False
    return not any(isinstance(node, (exp.Subquery, *_QUERIES)) and node is not select
                   for node in select.walk())


def _materialise(query, tables, counter, inputs):
    """``query`` replaced by ``SELECT * FROM _qserv_m<k>`` when it reads catalog tables."""
    if not catalog_tables(query, tables):
        return query
    if isinstance(query, exp.Select) and not _is_simple(query):
        _compose(query, tables, counter, inputs)
        return query
    plan = _plan(query, tables, counter)
    if isinstance(plan, CzarPlan):
        inputs.update(plan.inputs)
        return plan.tree
    name = f"{MATERIALISED}{counter[0]}"
    counter[0] += 1
    inputs[name] = plan
    return exp.select("*").from_(exp.Table(this=exp.to_identifier(name, quoted=True)))


def _compose(tree, tables, counter, inputs):
    """Materialise the parts of a composite query that read catalog tables (in place)."""
    if isinstance(tree, (exp.Union, exp.Intersect, exp.Except)):
        for key in ("this", "expression"):
            tree.set(key, _materialise(tree.args[key], tables, counter, inputs))
        return
    with_ = tree.args.get("with_")
    for cte in (with_.expressions if with_ else []):
        cte.set("this", _materialise(cte.this, tables, counter, inputs))
    if isinstance(tree, exp.Select):
        sources = [tree.args.get("from_"), *(tree.args.get("joins") or [])]
        for source in sources:
            if source is not None and isinstance(source.this, exp.Subquery):
                subquery = source.this
                subquery.set("this", _materialise(subquery.this, tables, counter, inputs))
    for node in tree.walk():
        if isinstance(node, exp.Table) and table_key(node) in tables:
            raise UnsupportedQueryError(
                f"{table_key(node)} is read inside a subquery or next to a derived table: only "
                "whole SELECTs over catalog tables (set operation branches, WITH queries, derived "
                "tables in FROM) can be combined")


def _chunk_plan(select, tables):
    if source_tables(select) is None:
        raise UnsupportedQueryError("derived tables cannot be joined with sharded tables")
    shape = join_shape(select, tables)
    primary = shape.primary
    plan_kwargs = {"aliases": shape.aliases, "overlap_alias": shape.overlap_alias, "near_alias": shape.near_alias,
                   "chunk_tables": list({shape.aliases[a].key: shape.aliases[a] for a in primary}.values())}
    counted = _counted_table(select, shape)
    split = split_aggregates(select)
    plan = ChunkPlan(select, split.worker, split.merge, split.spec, count_table=counted, **plan_kwargs)
    positions = {alias: shape.aliases[alias].position for alias in primary if shape.aliases[alias].position}
    plan.restrictors = [r for r in spatial_restrictors(select, positions) if r.table in positions]
    first = shape.aliases[primary[0]]
    if plan.restrictors:
        grid = first.partitioning
        plan.spatial_chunks = chunks_for(plan.restrictors, grid.chunk_order, grid.subchunk_order)
    chunks = chunk_restriction(select, primary)  # WHERE chunkId = N (qserv.sql.chunk_columns)
    if chunks is not None:
        spatial = plan.spatial_chunks
        plan.spatial_chunks = chunks if spatial is None else np.intersect1d(spatial, chunks)
    keys = {alias: shape.aliases[alias].placement_key for alias in primary if shape.aliases[alias].placement_key}
    for restriction in director_key_restrictions(select, keys):
        director = tables[shape.aliases[restriction.table].family]
        plan.key_lookups.append((director, restriction.values))
    if first.kind == "time":
        plan.bucket_range = time_bucket_range(select, primary[0], first)
    if first.kind == "hash":
        plan.buckets = hash_buckets(select, primary[0], first)
    plan.row_limit = _row_limit(split.spec)
    if shape.overlap_alias is not None:
        if any(node.is_star for node in select.expressions):
            raise UnsupportedQueryError("SELECT * is not supported in a near-neighbour join: list the columns")
        if shape.radius_deg is None:  # a match table reading all its copies: each pair from one chunk
            plan.worker = plan.worker.where(_same_chunk(shape))
    if shape.radius_deg is not None:
        band = _declination_band(shape.near_alias, shape.aliases[shape.near_alias].dec_column,
                                 shape.overlap_alias, shape.aliases[shape.overlap_alias].dec_column,
                                 shape.radius_deg)
        plan.zone_height_deg = max(shape.radius_deg, MIN_ZONE_HEIGHT_DEG)
        plan.worker = _pair_condition(plan.worker, shape.overlap_alias,
                                      exp.and_(_same_chunk(shape), _same_zone(shape), band))
    plan.crossmatch = inline_crossmatch(select, shape)
    if plan.crossmatch is not None:
        match = plan.crossmatch
        plan.worker = plan.worker.where(_declination_band(
            match.partner, shape.aliases[match.partner].dec_column, match.alias, match.dec_column,
            match.radius_deg))
    return plan


def _pair_condition(worker, overlap_alias, condition):
    """AND ``condition`` (which pairs a chunk compares) into the ON of the LEFT JOIN that brings in
    the overlap side: in WHERE it would also drop the preserved rows that have no partner. For
    other joins WHERE and ON mean the same."""
    for join in worker.args.get("joins") or []:
        if join.this.alias_or_name == overlap_alias and (join.args.get("side") or "").upper() == "LEFT":
            join.set("on", exp.and_(join.args.get("on"), condition))
            return worker
    return worker.where(condition)


def _same_chunk(shape):
    """Both sides of a near-neighbour pair from the same chunk: the partner's copy (own or overlap)
    stored with the chunk that owns the first side, so each pair is found exactly once."""
    chunk = [exp.column(exp.to_identifier(CHUNK_COLUMN, quoted=True), table=exp.to_identifier(alias, quoted=True))
             for alias in (shape.near_alias, shape.overlap_alias)]
    return exp.EQ(this=chunk[0], expression=chunk[1])


def _same_zone(shape):
    """``near._qserv_zone = far._qserv_zone``: the near side's declination zone (height the radius)
    equals one of the three zone ids each far row is offered under (its own and both neighbours),
    so the workers hash-join on (chunk, zone) and compare only rows at most two zones apart; each
    pair within the radius (|dDec| <= r) meets exactly one of the three (``qserv.query.render``)."""
    zone = [exp.column(exp.to_identifier(ZONE_COLUMN, quoted=True), table=exp.to_identifier(alias, quoted=True))
            for alias in (shape.near_alias, shape.overlap_alias)]
    return exp.EQ(this=zone[0], expression=zone[1])


def _declination_band(near_alias, near_dec, far_alias, far_dec, radius_deg):
    """``far.dec BETWEEN near.dec - r AND near.dec + r`` for a pair within ``radius_deg``: implied by
    the distance condition (|dDec| <= distance), and a range join the worker engine runs without
    comparing every pair of the chunk."""
    def dec(alias, column):
        return exp.column(exp.to_identifier(column, quoted=True), table=exp.to_identifier(alias, quoted=True))

    radius = exp.Literal.number(repr(radius_deg))
    near, far = dec(near_alias, near_dec), dec(far_alias, far_dec)
    return exp.and_(exp.GTE(this=far, expression=exp.Sub(this=near, expression=radius)),
                    exp.LTE(this=far.copy(), expression=exp.Add(this=near.copy(), expression=radius)))


def _row_limit(spec):
    """LIMIT n [OFFSET m] of a row query without ORDER BY or DISTINCT: n + m rows suffice."""
    return spec.k if spec.kind in (CONCAT, PROJECTION) else None


def _counted_table(select, shape):
    """The table of ``SELECT COUNT(*) [AS x] FROM t`` (nothing else), answered from counters."""
    if len(shape.aliases) != 1 or len(select.expressions) != 1:
        return None
    if any(select.args.get(key) for key in ("where", "group", "having", "order", "limit", "offset",
                                            "distinct", "joins")):
        return None
    item = select.expressions[0].unalias()
    if isinstance(item, exp.Count) and isinstance(item.this, exp.Star):
        return next(iter(shape.aliases.values()))
    return None


__all__ = ["ChunkPlan", "CzarPlan", "MATERIALISED", "PARTIALS", "ReplicatedPlan", "SubqueryPlan", "plan_query"]
