"""Children placed by or near their director, and match tables: what ingest checks and measures.

A child table with its own ``--ra/--dec`` is placed by that position. Either it is its director's
position (``--director-position``, Qserv's raObject/declObject): every row whose director exists
must then be in the director's chunk, so director-key joins are chunk-local; or the child lies near
its director (a DiaSource around its DiaObject): the largest child-director distance is recorded
per table (``tables.director_distance_arcsec``), and a director-key join is chunk-local when it is
within the overlap radius (``qserv.query.joins``).

A pair is checked or measured when the second of its two rows is ingested: at the child's ingest
for the director rows already there (the director index keeps their positions), at the director's
ingest for the child rows that found no director, which the index remembers as *unmatched*.
Contributions of one director and its children must not run at the same time (each would miss the
other's rows).

A match table relates the rows of two directors (Qserv's RefDeepSrcMatch): each row is stored in
the chunk of its first director's row (its own copy) and, when different, in the chunk of its second
director's row (a copy flagged as overlap); the largest distance between the two directors' rows is
recorded like a near child's. Its directors' rows must be ingested first: a key matching no row is
an error, a NULL key leaves that side out.
"""

import numpy as np
import pyarrow as pa
from sqlalchemy import case, select, update

from qserv.errors import InputError
from qserv.ingest.partitioner import Placement, positions
from qserv.meta.models import Contribution, Table, Transaction
from qserv.sphere.angles import angular_separation_deg

SHOWN_ROWS = 5


class DirectorLinks:
    """The checks of one contribution (of a director, or of a child with its own position) and the
    largest distances it measured, {child table name: arcsec, or None when a director's position
    is not known (index rows written before positions were kept)}."""

    def __init__(self, plan, index, store):
        self.plan, self.index, self.store = plan, index, store
        self.database = plan.database.name
        self.measured = {}

    # -- a child's rows -------------------------------------------------------------------------
    def child_batch(self, batch, chunks, origin):
        """Check (director position) or measure (near) the rows of a child batch whose director
        exists; remember the others with a key as unmatched."""
        table, director = self.plan.table, self.plan.director
        keys = batch.column(table.director_key)
        ra, dec = positions(batch, table.ra_column, table.dec_column, origin)
        found = self.index.matches(self.database, director.name, keys, self.plan.hidden)
        rows = found.column("position").to_numpy()
        director_chunks = found.column("chunk").to_numpy()
        if table.director_position:
            wrong = np.flatnonzero(director_chunks != chunks[rows])
            if len(wrong):
                shown = ", ".join(
                    f"row {origin.row(rows[i])} ({table.director_key}={keys[int(rows[i])].as_py()!r}: chunk "
                    f"{chunks[rows[i]]}, its {director.name} row in chunk {director_chunks[i]})"
                    for i in wrong[:SHOWN_ROWS])
                raise InputError(
                    origin.source, f"{len(wrong)} row(s) of {table.name} are not in their director's chunk, "
                    f"so {table.ra_column}/{table.dec_column} are not the position of their {director.name} "
                    f"row (--director-position): {shown}", column=(table.ra_column, table.dec_column))
        else:
            self._observe(table.name, ra[rows], dec[rows], found)
        unmatched = np.ones(len(keys), bool)
        unmatched[rows] = False
        unmatched &= ~keys.is_null().to_numpy(zero_copy_only=False)
        picked = np.flatnonzero(unmatched)
        if len(picked):
            self.index.add_unmatched(self.database, table.name, keys.take(pa.array(picked)), chunks[picked],
                                     ra[picked], dec[picked], self.plan.transaction_id,
                                     self.plan.contribution_id)

    # -- a match table's rows -------------------------------------------------------------------
    def match_batch(self, batch, origin):
        """The Placement of a batch of a match table (checking its keys); measures the distances."""
        table, n = self.plan.table, len(batch)
        sides = []
        for director, key in ((self.plan.director, table.director_key), (self.plan.director2, table.director2_key)):
            keys = batch.column(key)
            found = self.index.matches(self.database, director.name, keys, self.plan.hidden)
            rows = found.column("position").to_numpy()
            side = {name: np.full(n, fill, dtype) for name, fill, dtype in
                    (("chunk", -1, np.int64), ("subchunk", -1, np.int64), ("ra", np.nan, np.float64),
                     ("dec", np.nan, np.float64))}
            for name, values in side.items():
                values[rows] = found.column(name).to_numpy(zero_copy_only=False)
            unknown = np.flatnonzero((side["chunk"] < 0) & ~keys.is_null().to_numpy(zero_copy_only=False))
            if len(unknown):
                shown = ", ".join(f"{keys[int(i)].as_py()!r} (row {origin.row(i)})" for i in unknown[:SHOWN_ROWS])
                raise InputError(origin.source, f"{len(unknown)} row(s) of {table.name} reference "
                                 f"{director.name}.{director.id_column} values that do not exist: {shown}",
                                 column=key)
            sides.append(side)
        first, second = sides
        neither = np.flatnonzero((first["chunk"] < 0) & (second["chunk"] < 0))
        if len(neither):
            raise InputError(origin.source, f"{len(neither)} row(s) of {table.name} have NULL for both "
                             f"{table.director_key} and {table.director2_key}: rows "
                             f"{', '.join(str(origin.row(i)) for i in neither[:SHOWN_ROWS])}")
        both = np.flatnonzero((first["chunk"] >= 0) & (second["chunk"] >= 0))
        if len(both):
            distances = angular_separation_deg(first["ra"][both], first["dec"][both], second["ra"][both],
                                               second["dec"][both]) * 3600.0
            self._fold(table.name, None if np.isnan(distances).any() else float(distances.max()))
        has_first = first["chunk"] >= 0
        own = Placement.one_copy_each(np.where(has_first, first["chunk"], second["chunk"]),
                                      np.where(has_first, first["subchunk"], second["subchunk"]))
        copies = both[second["chunk"][both] != first["chunk"][both]]
        return Placement(np.concatenate([own.rows, copies]), np.concatenate([own.chunks, second["chunk"][copies]]),
                         np.concatenate([own.subchunks, second["subchunk"][copies]]),
                         np.concatenate([own.overlap, np.ones(len(copies), bool)]))

    # -- a director's rows ----------------------------------------------------------------------
    def director_batch(self, ids, chunks, ra, dec, origin, rows):
        """Check or measure the remembered unmatched rows of each child with its own position
        against the new director rows (``ids``, ``chunks``, ``ra``, ``dec`` of its own copies,
        ``rows`` their rows in the batch)."""
        director = self.plan.table
        if director.non_unique:
            self._new_versions(ids, ra, dec)
        for child, director_position, _ in self.plan.linked_children:
            found = self.index.unmatched(self.database, child, ids, self.plan.hidden)
            if found is None or found.num_rows == 0:
                continue
            found = found.filter(pa.array(self._live(found)))
            at = found.column("position").to_numpy()
            if not director_position:
                self._observe(child, ra[at], dec[at], found)
                continue
            child_chunks = found.column("chunk").to_numpy()
            wrong = np.flatnonzero(child_chunks != chunks[at])
            if len(wrong):
                shown = ", ".join(
                    f"row {origin.row(rows[at[i]])} ({director.id_column}={ids[int(at[i])].as_py()!r}: chunk "
                    f"{chunks[at[i]]}, a {child} row of it in chunk {child_chunks[i]})" for i in wrong[:SHOWN_ROWS])
                raise InputError(
                    origin.source, f"{len(wrong)} {child} row(s) stored before their {director.name} row "
                    f"are not in its chunk ({child} is placed by its director's position): {shown}",
                    column=(director.ra_column, director.dec_column))

    def _new_versions(self, ids, ra, dec):
        """New rows of a ``--non-unique`` director whose id has rows already: the children matched to
        those are within the recorded distance of them, so within it plus the new row's distance
        from the nearest of them (triangle inequality) of the new row, which the children's bound
        must cover."""
        older = self.index.matches(self.database, self.plan.table.name, ids, self.plan.hidden)
        if older.num_rows == 0:
            return
        at = older.column("position").to_numpy()
        shifts = angular_separation_deg(ra[at], dec[at], *(older.column(name).to_numpy(zero_copy_only=False)
                                                           .astype(np.float64) for name in ("ra", "dec"))) * 3600.0
        nearest = np.full(len(ids), np.inf)  # inf: no older row with a known position
        np.minimum.at(nearest, at, np.where(np.isnan(shifts), np.inf, shifts))
        nearest = nearest[np.unique(at)]
        unknown = bool(np.isinf(nearest).any())
        shift = 0.0 if unknown else float(nearest.max())
        for child, director_position, recorded in self.plan.linked_children:
            if director_position:
                continue
            current = None if recorded is None else max(recorded, self.measured.get(child) or 0.0)
            self._fold(child, None if current is None or unknown else current + shift)

    def _live(self, found):
        """Which remembered rows belong to a committed transaction or to a loaded (or this)
        contribution of this transaction (not to an aborted one or a failed attempt)."""
        txns = found.column("txn").to_numpy()
        contribs = found.column("contrib").to_numpy()
        with self.store.session() as session:
            committed = set(session.scalars(select(Transaction.id).where(
                Transaction.id.in_(np.unique(txns).tolist()), Transaction.state == "committed")))
            loaded = set(session.scalars(select(Contribution.id).where(
                Contribution.id.in_(np.unique(contribs).tolist()), Contribution.state == "loaded")))
        loaded.add(self.plan.contribution_id)
        own = txns == self.plan.transaction_id
        return np.isin(txns, list(committed)) | (own & np.isin(contribs, list(loaded)))

    def _observe(self, child, ra, dec, other):
        """Fold the distances of the pairs (``ra``, ``dec``) - (``other``'s ra, dec) into ``measured``."""
        if len(ra) == 0 or (child in self.measured and self.measured[child] is None):
            return
        other_ra = other.column("ra").to_numpy(zero_copy_only=False).astype(np.float64)
        other_dec = other.column("dec").to_numpy(zero_copy_only=False).astype(np.float64)
        distances = angular_separation_deg(ra, dec, other_ra, other_dec) * 3600.0
        self._fold(child, None if np.isnan(distances).any() else float(distances.max()))

    def _fold(self, table, largest_arcsec):
        """Fold a batch's largest distance (None: not known) into ``measured``."""
        if table in self.measured and self.measured[table] is None:
            return
        self.measured[table] = None if largest_arcsec is None else max(largest_arcsec, self.measured.get(table, 0.0))

    # -- the central state ----------------------------------------------------------------------
    def record(self):
        """Raise each child's recorded largest distance to what this contribution measured (NULL,
        not known, stays; an unknown measure makes it NULL). Raising only is safe: a distance of
        rows that end up aborted only makes the bound looser."""
        if not self.measured:
            return
        column = Table.director_distance_arcsec
        with self.store.session() as session:
            for child, arcsec in self.measured.items():
                value = None if arcsec is None else case((column < arcsec, arcsec), else_=column)
                session.execute(update(Table).where(Table.database_id == self.plan.database.id,
                                                    Table.name == child).values(director_distance_arcsec=value))
