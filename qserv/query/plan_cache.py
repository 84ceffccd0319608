"""Plans by query shape: a query seen before with other numbers skips parse, resolve, rules,
planning and the rendering of its worker SQL (pure: the engine plans, ``Engine._learn``).

A query's ``qserv.query.shape.Shape`` (its text split at its numeric literals) and its context (the
language, the default database, the catalog version, whether unpublished databases are visible,
the row cap) form the key. The second time a key is seen, the engine plans the query twice: as
written (the caller's answer) and as a *probe* (``probe_text``), each number of the WHERE clause
(``lifted_literals``) replaced by a distinct marker value (``_marker``); ``build_entry`` compares.
Other numbers (select list, LIMIT/TOP, ON, GROUP BY ...) are *pinned*: part of the key. The
entry keeps the probe plan; its worker SQL on each backend split at the markers (``_Layout``); the
probe's resolved SELECT, whose marker literals take the next query's numbers; and what the real
numbers must rebuild (below). It is kept only if the probe, given the real numbers, reproduces the
real plan exactly: the same kind and fields, worker SQL text on every backend of the active
workers, merge statement (with no marker in it), result schema, spatial restrictors and their
chunks, director-key lookups. Only single SELECTs over director and
child tables (``ChunkPlan`` without crossmatch, near-neighbour zones, time or hash buckets) are
kept; any other plan, and any query with uploads, takes the full path every time.

A hit (``instantiate``) puts the numbers in the SELECT and the worker SQL and re-derives what
decides the chunks: the spatial restrictors (``spatial_restrictors``, ``chunks_for``) and the director-key
lookups (``director_key_restrictions``), exactly as the planner does. If they no longer have the
entry's structure (a region that stopped being one, ``CONTAINS(...) = 0``), or raise, the query
takes the full path, which gives the planner's answer or error.

Entries are kept in a bounded LRU (setting ``plan_cache_shapes``; 0 turns the cache off); the
catalog version in the key retires a shape's entry when tables, workers or publication change.
"""

from collections import OrderedDict
from dataclasses import dataclass, replace
import re
import threading

import numpy as np
from sqlglot import exp

from qserv.query.director_keys import director_key_restrictions
from qserv.query.joins import join_shape
from qserv.query.plan import ChunkPlan
from qserv.query.render import WorkerTemplate, worker_template
from qserv.query.restrictors import chunks_for, spatial_restrictors
from qserv.sql.emit import to_sql

_MARKER_DIGITS = "9753186420"
_MARKER = re.compile(rf"(?<![\w.])(?:0\.)?{_MARKER_DIGITS}\d{{4}}(?![\w.])")
_NOT_LIFTED = (exp.Limit, exp.Offset, exp.Fetch)
UNCACHEABLE = "uncacheable"  # an entry: the shape always takes the full path


def _marker(index, fractional=True):
    """The marker value of literal ``index``: unique, and a number below 1, valid wherever a
    coordinate or a radius is expected (also for an integer literal of the WHERE clause: the key
    holds which literals are integers, and the check against the real plan covers what the kind
    changes); an integer marker (not ``fractional``) only to find where the literals are."""
    return f"{'0.' if fractional else ''}{_MARKER_DIGITS}{index:04d}"


@dataclass(frozen=True)
class _Layout:
    """A WorkerTemplate's parts with the markers cut out: each text part a tuple of texts and
    literal indexes."""

    parts: tuple

    def template(self, literals):
        return WorkerTemplate(tuple(part if i % 2 else "".join(p if isinstance(p, str) else literals[p] for p in part)
                                    for i, part in enumerate(self.parts)), {})


def _layout(template, markers):
    if template.inline:
        return None
    parts = []
    for i, part in enumerate(template.parts):
        if i % 2:
            parts.append(part)
            continue
        pieces, end = [], 0
        for match in _MARKER.finditer(part):
            if match.group() not in markers:
                return None
            pieces += [part[end:match.start()], markers[match.group()]]
            end = match.end()
        parts.append(tuple(pieces + [part[end:]]))
    return _Layout(tuple(parts))


@dataclass(frozen=True)
class Entry:
    plan: ChunkPlan  # the probe's plan
    schema: object  # the result schema (pyarrow)
    layouts: dict  # backend -> _Layout
    markers: dict  # marker text -> literal index
    positions: dict  # alias -> (ra, dec) columns, for spatial_restrictors
    keys: dict  # alias -> director-key column, for director_key_restrictions
    directors: dict  # alias -> the director TableInfo its key looks up
    structure: tuple  # the restrictors' (region kind, table) and the key lookups' tables


@dataclass(frozen=True)
class Prepared:
    """A plan from the cache: run ``plan`` with ``templates`` (backend -> WorkerTemplate)."""

    plan: ChunkPlan
    schema: object
    templates: dict


def instantiate(entry, literals):
    """The Prepared query of ``entry`` with ``literals`` (texts), or None when they change the plan's
    structure."""
    select = entry.plan.select.copy()
    for node in select.find_all(exp.Literal):
        index = entry.markers.get(node.this) if not node.is_string else None
        if index is not None:
            node.set("this", literals[index])
    restrictors = [r for r in spatial_restrictors(select, entry.positions) if r.table in entry.positions]
    lookups = [(r.table, r.values) for r in director_key_restrictions(select, entry.keys)]
    if _structure(restrictors, lookups) != entry.structure:
        return None
    grid = next(iter(entry.plan.chunk_tables)).partitioning
    spatial = chunks_for(restrictors, grid.chunk_order, grid.subchunk_order) if restrictors else None
    plan = replace(entry.plan, select=select, restrictors=restrictors, spatial_chunks=spatial,
                   key_lookups=[(entry.directors[table], values) for table, values in lookups])
    templates = {backend: layout.template(literals) for backend, layout in entry.layouts.items()}
    return Prepared(plan, entry.schema, templates)


def _structure(restrictors, lookups):
    return tuple((type(r.region), r.table) for r in restrictors), tuple(table for table, _ in lookups)


def lifted_literals(shape, parsed):
    """Indexes of the literals of ``shape`` that a probe replaces: those in a WHERE clause (not in a
    LIMIT/OFFSET there); ``parsed`` is the tree of ``marked_text(shape)``."""
    markers = {_marker(i, f): i for i, f in enumerate(shape.key[1])}
    lifted = set()
    for node in parsed.find_all(exp.Literal):
        index = markers.get(node.this) if not node.is_string else None
        if index is not None and node.find_ancestor(exp.Where) and not node.find_ancestor(*_NOT_LIFTED):
            lifted.add(index)
    return lifted


def marked_text(shape):
    """The query of ``shape`` with every literal replaced by a marker of its kind."""
    return shape.text([_marker(i, f) for i, f in enumerate(shape.key[1])])


def probe_text(shape, lifted):
    """The query of ``shape`` with the literals of ``lifted`` replaced by their markers."""
    return shape.text([_marker(i) if i in lifted else literal for i, literal in enumerate(shape.literals)])


def build_entry(shape, lifted, real, probe, tables, backends):
    """The Entry of a shape from ``real`` and ``probe`` ((plan, schema) of the query and of its
    probe), or UNCACHEABLE when the probe does not reproduce the real plan with the real numbers."""
    (plan, schema), (probe_plan, probe_schema) = real, probe
    if not (_cacheable(plan) and _cacheable(probe_plan) and schema.equals(probe_schema, check_metadata=True)):
        return UNCACHEABLE
    markers = {_marker(i): i for i in lifted}
    merge = to_sql(probe_plan.merge, "duckdb")
    if merge != to_sql(plan.merge, "duckdb") or _MARKER.search(merge):
        return UNCACHEABLE
    layouts = {backend: _layout(worker_template(probe_plan, backend), markers) for backend in backends}
    if any(layout is None for layout in layouts.values()):
        return UNCACHEABLE
    query = join_shape(probe_plan.select, tables)
    primary = [query.aliases[alias] for alias in query.primary]
    positions = {alias: info.position for alias, info in zip(query.primary, primary) if info.position}
    keys = {alias: info.placement_key for alias, info in zip(query.primary, primary) if info.placement_key}
    directors = {alias: tables[query.aliases[alias].family] for alias in keys}
    entry = Entry(probe_plan, probe_schema, layouts, markers, positions, keys, directors, None)
    lookups = [(r.table, r.values) for r in director_key_restrictions(plan.select, keys)]
    entry = replace(entry, structure=_structure(plan.restrictors, lookups))
    again = instantiate(entry, shape.literals)
    if again is None or not _same_plan(again.plan, plan):
        return UNCACHEABLE
    for backend, template in again.templates.items():
        if template.parts != worker_template(plan, backend).parts:
            return UNCACHEABLE
    return entry


def _cacheable(plan):
    return (isinstance(plan, ChunkPlan) and plan.crossmatch is None and plan.zone_height_deg is None
            and plan.bucket_range is None and plan.buckets is None
            and all(info.kind in ("director", "child") for info in plan.aliases.values()))


def _same_plan(found, plan):
    """Whether the plan rebuilt from a probe is the planner's ``plan``."""
    same_chunks = (found.spatial_chunks is None and plan.spatial_chunks is None) or (
        found.spatial_chunks is not None and plan.spatial_chunks is not None
        and np.array_equal(found.spatial_chunks, plan.spatial_chunks))
    fields = ("aliases", "overlap_alias", "near_alias", "chunk_tables", "row_limit", "count_table", "key_lookups")
    return (same_chunks and all(getattr(found, f) == getattr(plan, f) for f in fields)
            and [repr(r.region) for r in found.restrictors] == [repr(r.region) for r in plan.restrictors]
            and to_sql(found.select, "duckdb") == to_sql(plan.select, "duckdb"))


class PlanCache:
    """A bounded LRU holding, per key, False (seen once) or the lifted literal indexes (learnt), and
    per key and pinned literal values, the Entry or UNCACHEABLE. Thread-safe; ``hits`` and
    ``misses`` count lookups."""

    def __init__(self, size):
        self.size = size
        self._entries = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def lookup(self, key, literals):
        """(the Entry or UNCACHEABLE for ``key`` and these literals, or None; whether to learn
        them now: the key was seen before and nothing is known for these pinned values)."""
        with self._lock:
            lifted = self._get(key)
            found = self._get(_full_key(key, lifted, literals)) if isinstance(lifted, frozenset) else None
            if isinstance(found, Entry):
                self.hits += 1
                return found, False
            self.misses += 1
            if lifted is None:
                self._put(key, False)
            return found, lifted is not None and found is None

    def store(self, key, literals, lifted, entry):
        with self._lock:
            self._put(key, frozenset(lifted))
            self._put(_full_key(key, lifted, literals), entry)

    def _get(self, key):
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def _put(self, key, value):
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


def _full_key(key, lifted, literals):
    return key, tuple(literal for i, literal in enumerate(literals) if i not in lifted)
