# cython: language_level=3
"""Merge kernels of the czar: k-way top-k merge of sorted partials and group combine.

Reference implementations: qserv.merge.kernels.topk_reference and combine_reference (numpy);
the tests check that both agree, and agree with the DuckDB merge they replace.

Sort keys (``topk``, ``natural_runs``) are ``(values, valid, desc, nulls_first)`` with ``values`` a
contiguous int64 or float64 array and ``valid`` a uint8 array (1 = not NULL) or ``None``. The
order is DuckDB's: NULLs first or last per key as asked, independently of the direction; NaN is
greater than every number and equal to itself; -0.0 equals 0.0. Rows that compare equal on every
key keep their input order (ties broken by run index, then position in the run).

Group keys (``group_ids``) are ``(values, valid)`` with int64 ``values`` (the wrapper maps every
key type to int64 codes, see qserv.merge.kernels); NULL is a value of its own. ``combine_partials``
then adds up / takes the extremes of the partial columns per group number.
"""

import numpy as np
cimport numpy as cnp
from libc.math cimport isnan
from libc.stdint cimport INT64_MAX, INT64_MIN, int64_t, uint64_t, uint8_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memset

cnp.import_array()


cdef struct SortKey:
    int is_float
    const int64_t *ints
    const double *floats
    const uint8_t *valid  # NULL: no NULLs
    int desc
    int nulls_first


cdef inline int compare_rows(const SortKey *keys, int nkeys, int64_t a, int64_t b) noexcept nogil:
    """-1, 0 or 1: row ``a`` before, tied with or after row ``b`` in the merge order."""
    cdef int j, c, va, vb, na, nb
    cdef double x, y
    cdef int64_t p, q
    for j in range(nkeys):
        if keys[j].valid != NULL:
            va = keys[j].valid[a]
            vb = keys[j].valid[b]
            if va != vb:
                # exactly one NULL
                if keys[j].nulls_first:
                    return 1 if va else -1
                return -1 if va else 1
            if not va:
                continue
        if keys[j].is_float:
            x = keys[j].floats[a]
            y = keys[j].floats[b]
            na = isnan(x)
            nb = isnan(y)
            if na or nb:
                c = na - nb
            else:
                c = (x > y) - (x < y)
        else:
            p = keys[j].ints[a]
            q = keys[j].ints[b]
            c = (p > q) - (p < q)
        if c != 0:
            return -c if keys[j].desc else c
    return 0


cdef inline bint before(const SortKey *keys, int nkeys, int64_t a, int64_t b) noexcept nogil:
    """Row ``a`` strictly before row ``b`` (ties by row index: runs are in row order)."""
    cdef int c = compare_rows(keys, nkeys, a, b)
    if c != 0:
        return c < 0
    return a < b


cdef SortKey *build_keys(list keys, int64_t n, list keep) except NULL:
    """C views of the Python key tuples (arrays checked and kept alive in ``keep``)."""
    cdef int nkeys = len(keys)
    cdef SortKey *out = <SortKey *>malloc(max(nkeys, 1) * sizeof(SortKey))
    cdef cnp.ndarray values, valid
    cdef int j
    if out == NULL:
        raise MemoryError()
    try:
        for j, key in enumerate(keys):
            if len(key) != 4:
                raise ValueError("a sort key is (values, valid, desc, nulls_first)")
            values, valid_obj, desc, nulls_first = key
            if values.ndim != 1 or values.shape[0] != n or not values.flags.c_contiguous:
                raise ValueError(f"sort key {j}: values must be a contiguous 1-d array of {n} rows")
            out[j].is_float = values.dtype == np.float64
            if not out[j].is_float and values.dtype != np.int64:
                raise ValueError(f"sort key {j}: values must be int64 or float64, not {values.dtype}")
            out[j].ints = <const int64_t *>cnp.PyArray_DATA(values)
            out[j].floats = <const double *>cnp.PyArray_DATA(values)
            out[j].valid = NULL
            if valid_obj is not None:
                valid = valid_obj
                if valid.dtype != np.uint8 or valid.ndim != 1 or valid.shape[0] != n \
                        or not valid.flags.c_contiguous:
                    raise ValueError(f"sort key {j}: valid must be a contiguous uint8 array of {n} rows")
                out[j].valid = <const uint8_t *>cnp.PyArray_DATA(valid)
                keep.append(valid)
            out[j].desc = bool(desc)
            out[j].nulls_first = bool(nulls_first)
            keep.append(values)
    except BaseException:
        free(out)
        raise
    return out


cdef int64_t key_rows(list keys) except -1:
    if not keys:
        raise ValueError("at least one key is needed")
    return (<cnp.ndarray>keys[0][0]).shape[0]


cdef inline void sift_down(int64_t *pos, int64_t *end, int64_t size, int64_t i,
                           const SortKey *keys, int nkeys) noexcept nogil:
    cdef int64_t child, best, tp, te
    while True:
        child = 2 * i + 1
        if child >= size:
            return
        best = child
        if child + 1 < size and before(keys, nkeys, pos[child + 1], pos[child]):
            best = child + 1
        if not before(keys, nkeys, pos[best], pos[i]):
            return
        tp = pos[i]; pos[i] = pos[best]; pos[best] = tp
        te = end[i]; end[i] = end[best]; end[best] = te
        i = best


def natural_runs(bounds, list keys):
    """``bounds`` (int64 run starts + total, ascending) split at every row that is before its
    predecessor: runs in which the rows are in merge order, whatever the input."""
    cdef list keep = []
    cdef int64_t n = key_rows(keys)
    cdef const int64_t[::1] b = np.ascontiguousarray(bounds, dtype=np.int64)
    cdef int64_t nb = b.shape[0]
    if nb < 1 or b[0] != 0 or b[nb - 1] != n:
        raise ValueError(f"run bounds must start at 0 and end at {n}")
    cdef SortKey *ks = build_keys(keys, n, keep)
    cdef int nkeys = len(keys)
    cdef cnp.ndarray[int64_t, ndim=1] out = np.empty(n + 1, dtype=np.int64)
    cdef int64_t *o = <int64_t *>cnp.PyArray_DATA(out)
    cdef int64_t count = 0, r, i, start, stop
    try:
        with nogil:
            for r in range(nb - 1):
                start = b[r]
                stop = b[r + 1]
                if stop < start:
                    with gil:
                        raise ValueError("run bounds must be ascending")
                if stop == start:
                    continue
                o[count] = start
                count += 1
                for i in range(start + 1, stop):
                    if compare_rows(ks, nkeys, i - 1, i) > 0:
                        o[count] = i
                        count += 1
            o[count] = n
            count += 1
    finally:
        free(ks)
    return out[:count].copy()


cdef void merge_runs(const SortKey *keys, int nkeys, int64_t *runs, int64_t nruns,
                     int64_t *rows, int64_t *spare) noexcept nogil:
    """Stable bottom-up merge sort of the row numbers ``rows`` (length runs[nruns]) made of the
    sorted runs ``[runs[i], runs[i + 1])``; ``spare`` is scratch of the same length. The run
    starts in ``runs`` are overwritten."""
    cdef int64_t *src = rows
    cdef int64_t *dst = spare
    cdef int64_t *tmp
    cdef int64_t count = nruns, i, out, a, a_end, b, b_end, n = runs[nruns], r
    while count > 1:
        out = 0
        r = 0
        i = 0
        while i < count:
            a = runs[i]
            a_end = runs[i + 1]
            if i + 1 < count:
                b = a_end
                b_end = runs[i + 2]
            else:
                b = b_end = a_end
            runs[r] = a
            r += 1
            out = a
            while a < a_end and b < b_end:
                # take from the right run only when strictly before: ties keep row order
                if compare_rows(keys, nkeys, src[b], src[a]) < 0:
                    dst[out] = src[b]
                    b += 1
                else:
                    dst[out] = src[a]
                    a += 1
                out += 1
            while a < a_end:
                dst[out] = src[a]
                a += 1
                out += 1
            while b < b_end:
                dst[out] = src[b]
                b += 1
                out += 1
            i += 2
        runs[r] = n
        count = r
        tmp = src
        src = dst
        dst = tmp
    if src != rows:
        for i in range(n):
            rows[i] = src[i]


def topk(bounds, list keys, int64_t k, bint check=True):
    """Row indices (int64) of the first ``k`` rows of the k-way merge of the runs
    ``[bounds[i], bounds[i + 1])`` (each sorted by ``keys``). With ``check`` (the default) the runs
    are first split wherever they are not in order (``natural_runs``), so the answer is the first
    ``k`` rows of a stable sort of all rows whatever the input. A heap over the runs; when ``k``
    is a large part of the rows and there are many runs, a merge sort of the runs instead."""
    if k < 0:
        raise ValueError("k must be >= 0")
    cdef list keep = []
    cdef int64_t n = key_rows(keys)
    runs = natural_runs(bounds, keys) if check else np.array(bounds, dtype=np.int64)
    cdef int64_t[::1] b = runs
    cdef int64_t nb = b.shape[0]
    if nb < 1 or b[0] != 0 or b[nb - 1] != n:
        raise ValueError(f"run bounds must start at 0 and end at {n}")
    cdef int64_t r
    for r in range(nb - 1):
        if b[r + 1] < b[r]:
            raise ValueError("run bounds must be ascending")
    cdef int64_t want = min(k, n)
    cdef cnp.ndarray[int64_t, ndim=1] out
    if want == 0:
        return np.empty(0, dtype=np.int64)
    cdef SortKey *ks = build_keys(keys, n, keep)
    cdef int nkeys = len(keys)
    cdef int64_t *pos = NULL
    cdef int64_t *end = NULL
    cdef int64_t *o
    cdef int64_t size = 0, i, taken = 0
    cdef cnp.ndarray[int64_t, ndim=1] spare
    try:
        if 4 * want >= n and nb > 64:
            out = np.arange(n, dtype=np.int64)
            spare = np.empty(n, dtype=np.int64)
            runs = runs.copy()
            b = runs
            with nogil:
                merge_runs(ks, nkeys, &b[0], nb - 1, <int64_t *>cnp.PyArray_DATA(out),
                           <int64_t *>cnp.PyArray_DATA(spare))
            return out[:want].copy() if want < n else out
        out = np.empty(want, dtype=np.int64)
        o = <int64_t *>cnp.PyArray_DATA(out)
        pos = <int64_t *>malloc(nb * sizeof(int64_t))
        end = <int64_t *>malloc(nb * sizeof(int64_t))
        if pos == NULL or end == NULL:
            raise MemoryError()
        with nogil:
            for r in range(nb - 1):
                if b[r + 1] > b[r]:
                    pos[size] = b[r]
                    end[size] = b[r + 1]
                    size += 1
            i = size // 2 - 1
            while i >= 0:
                sift_down(pos, end, size, i, ks, nkeys)
                i -= 1
            while taken < want:
                o[taken] = pos[0]
                taken += 1
                pos[0] += 1
                if pos[0] == end[0]:
                    size -= 1
                    pos[0] = pos[size]
                    end[0] = end[size]
                sift_down(pos, end, size, 0, ks, nkeys)
    finally:
        free(pos)
        free(end)
        free(ks)
    return out


cdef void *_grow(void *buffer, size_t size) except NULL:
    cdef void *grown = realloc(buffer, size)
    if grown == NULL:
        raise MemoryError()
    return grown


# -- group combine ------------------------------------------------------------------------------

cdef inline uint64_t mix64(uint64_t z) noexcept nogil:
    """splitmix64 finaliser."""
    z = (z ^ (z >> 30)) * <uint64_t>0xBF58476D1CE4E5B9
    z = (z ^ (z >> 27)) * <uint64_t>0x94D049BB133111EB
    return z ^ (z >> 31)


cdef extern from *:
    void __builtin_prefetch(const void *address) nogil


cdef int64_t *_empty_slots(int64_t capacity) except NULL:
    """``capacity`` (tag, group) slot pairs, all empty (group -1)."""
    cdef int64_t *slots = <int64_t *>malloc(2 * capacity * sizeof(int64_t))
    if slots == NULL:
        raise MemoryError()
    memset(slots, 0xFF, 2 * capacity * sizeof(int64_t))
    return slots


cdef enum:
    PREFETCH = 16


cdef inline uint64_t row_hash(const int64_t **values, const uint8_t **valid, int nkeys, bint simple,
                              int64_t row) noexcept nogil:
    cdef uint64_t h
    cdef int j
    if simple:
        return mix64(<uint64_t>values[0][row])
    h = <uint64_t>0x9E3779B97F4A7C15
    for j in range(nkeys):
        if valid[j] != NULL and not valid[j][row]:
            h = mix64(h ^ <uint64_t>0xA0761D6478BD642F)
        else:
            h = mix64(h ^ <uint64_t>values[j][row])
    return h


def group_ids(list keys):
    """``(group, first)``: the group number of every row (int64, numbered in order of first
    appearance) and the first row of every group. ``keys`` is a list of ``(values, valid)``:
    int64 values and a uint8 validity array or ``None``; two rows are in one group when every
    key is equal (NULL equal to NULL).

    Open addressing with linear probing; a slot holds (tag, group) side by side so a probe is one
    cache line: the tag is the key itself for one key without NULLs, else the row hash, checked
    against the group's own copy of its keys."""
    cdef int64_t n = key_rows(keys)
    cdef int nkeys = len(keys)
    cdef int j
    cdef list keep = []
    cdef cnp.ndarray array
    cdef const int64_t **values = <const int64_t **>malloc(nkeys * sizeof(int64_t *))
    cdef const uint8_t **valid = <const uint8_t **>malloc(nkeys * sizeof(uint8_t *))
    cdef int64_t *slots = NULL
    cdef int64_t *first = NULL
    cdef int64_t *gkeys = NULL
    cdef uint8_t *gvalid = NULL
    cdef int64_t capacity = 1024, mask, groups = 0, allocated = 1024, row, g, s, i, v, tag
    cdef uint64_t h
    cdef bint simple, same
    cdef int vr
    cdef cnp.ndarray[int64_t, ndim=1] group = np.empty(n, dtype=np.int64)
    cdef int64_t *gp = <int64_t *>cnp.PyArray_DATA(group)
    cdef int64_t *old
    cdef int64_t[::1] out
    cdef uint64_t hashes[PREFETCH]
    try:
        if values == NULL or valid == NULL:
            raise MemoryError()
        for j in range(nkeys):
            key = keys[j]
            if len(key) != 2:
                raise ValueError("a group key is (values, valid)")
            array = key[0]
            if array.dtype != np.int64 or array.ndim != 1 or array.shape[0] != n or not array.flags.c_contiguous:
                raise ValueError(f"group key {j}: values must be a contiguous int64 array of {n} rows")
            values[j] = <const int64_t *>cnp.PyArray_DATA(array)
            keep.append(array)
            valid[j] = NULL
            if key[1] is not None:
                array = key[1]
                if array.dtype != np.uint8 or array.ndim != 1 or array.shape[0] != n \
                        or not array.flags.c_contiguous:
                    raise ValueError(f"group key {j}: valid must be a contiguous uint8 array of {n} rows")
                valid[j] = <const uint8_t *>cnp.PyArray_DATA(array)
                keep.append(array)
        simple = nkeys == 1 and valid[0] == NULL
        slots = _empty_slots(capacity)
        first = <int64_t *>malloc(allocated * sizeof(int64_t))
        gkeys = <int64_t *>malloc(allocated * nkeys * sizeof(int64_t))
        gvalid = <uint8_t *>malloc(allocated * nkeys * sizeof(uint8_t))
        if first == NULL or gkeys == NULL or gvalid == NULL:
            raise MemoryError()
        mask = capacity - 1
        for row in range(n):
            if row % PREFETCH == 0:
                # hash the next rows and prefetch their slots: the probes then overlap
                for i in range(row, min(row + PREFETCH, n)):
                    hashes[i - row] = row_hash(values, valid, nkeys, simple, i)
                    __builtin_prefetch(&slots[2 * <int64_t>(hashes[i - row] & <uint64_t>mask)])
            h = hashes[row % PREFETCH]
            tag = values[0][row] if simple else <int64_t>h
            s = <int64_t>(h & <uint64_t>mask)
            while True:
                g = slots[2 * s + 1]
                if g < 0:
                    break
                if slots[2 * s] == tag:
                    if simple:
                        break
                    same = True
                    for j in range(nkeys):
                        vr = 1 if valid[j] == NULL else valid[j][row]
                        if vr != gvalid[g * nkeys + j] or (vr and values[j][row] != gkeys[g * nkeys + j]):
                            same = False
                            break
                    if same:
                        break
                s = (s + 1) & mask
            if g < 0:
                g = groups
                if groups == allocated:
                    allocated *= 2
                    first = <int64_t *>_grow(first, allocated * sizeof(int64_t))
                    gkeys = <int64_t *>_grow(gkeys, allocated * nkeys * sizeof(int64_t))
                    gvalid = <uint8_t *>_grow(gvalid, allocated * nkeys * sizeof(uint8_t))
                first[g] = row
                for j in range(nkeys):
                    vr = 1 if valid[j] == NULL else valid[j][row]
                    gvalid[g * nkeys + j] = vr
                    gkeys[g * nkeys + j] = values[j][row] if vr else 0
                groups += 1
                slots[2 * s] = tag
                slots[2 * s + 1] = g
                if 2 * groups > capacity:
                    old = slots
                    slots = _empty_slots(2 * capacity)
                    for i in range(capacity):
                        if old[2 * i + 1] >= 0:
                            tag = old[2 * i]
                            h = mix64(<uint64_t>tag) if simple else <uint64_t>tag
                            s = <int64_t>(h & <uint64_t>(2 * capacity - 1))
                            while slots[2 * s + 1] >= 0:
                                s = (s + 1) & (2 * capacity - 1)
                            slots[2 * s] = tag
                            slots[2 * s + 1] = old[2 * i + 1]
                    free(old)
                    capacity *= 2
                    mask = capacity - 1
            gp[row] = g
        starts = np.empty(groups, dtype=np.int64)
        out = starts
        for i in range(groups):
            out[i] = first[i]
    finally:
        free(values)
        free(valid)
        free(slots)
        free(first)
        free(gkeys)
        free(gvalid)
    return group, starts


cdef inline int compare_floats(double x, double y) noexcept nogil:
    """DuckDB's float order: NaN greatest and equal to itself."""
    cdef int nx = isnan(x), ny = isnan(y)
    if nx or ny:
        return nx - ny
    return (x > y) - (x < y)


cdef int _sum_int(const int64_t *group, int64_t n, int64_t groups, const int64_t *values,
                  const uint8_t *valid, int64_t *sums, uint8_t *seen) noexcept nogil:
    """1 if a running sum overflowed int64."""
    cdef int64_t row, g, a, v
    for row in range(n):
        if valid != NULL:
            if not valid[row]:
                continue
            seen[group[row]] = 1
        g = group[row]
        a = sums[g]
        v = values[row]
        if (v > 0 and a > INT64_MAX - v) or (v < 0 and a < INT64_MIN - v):
            return 1
        sums[g] = a + v
    return 0


cdef void _sum_float(const int64_t *group, int64_t n, const double *values, const uint8_t *valid,
                     double *sums, uint8_t *seen) noexcept nogil:
    cdef int64_t row
    for row in range(n):
        if valid != NULL:
            if not valid[row]:
                continue
            seen[group[row]] = 1
        sums[group[row]] += values[row]


cdef void _min_int(const int64_t *group, int64_t n, const int64_t *values, const uint8_t *valid,
                   int64_t *best, uint8_t *seen, bint maximum) noexcept nogil:
    """best starts at INT64_MAX (min) or INT64_MIN (max); branch-free, so misses overlap."""
    cdef int64_t row, g, v, current
    for row in range(n):
        if valid != NULL:
            if not valid[row]:
                continue
            seen[group[row]] = 1
        g = group[row]
        v = values[row]
        current = best[g]
        if maximum:
            best[g] = v if v > current else current
        else:
            best[g] = v if v < current else current


cdef void _min_float(const int64_t *group, int64_t n, const double *values, const uint8_t *valid,
                     double *best, uint8_t *seen, bint maximum) noexcept nogil:
    """DuckDB's float order (NaN greatest, equal to itself; among equal values the last row, as
    DuckDB keeps -0.0 after 0.0). best starts at NaN (min) or -inf (max)."""
    cdef int64_t row, g
    cdef double x, current
    cdef bint replace
    for row in range(n):
        if valid != NULL:
            if not valid[row]:
                continue
            seen[group[row]] = 1
        g = group[row]
        x = values[row]
        current = best[g]
        if maximum:
            replace = isnan(x) | (x >= current)
        else:
            replace = isnan(current) | (x <= current)
        best[g] = x if replace else current


cdef void _arg_extreme(const int64_t *group, int64_t n, const SortKey *key, int64_t *rows,
                       bint maximum) noexcept nogil:
    """rows: per group the row of the minimum or maximum of ``key`` (-1 for none); ties: the
    last row."""
    cdef int64_t row, g
    cdef int c
    for row in range(n):
        if key.valid != NULL and not key.valid[row]:
            continue
        g = group[row]
        if rows[g] >= 0:
            c = compare_rows(key, 1, row, rows[g])
            if (c < 0) if maximum else (c > 0):
                continue
        rows[g] = row


def combine_partials(const int64_t[::1] group, int64_t groups, list partials, bint dense=False):
    """Partial columns combined per group, one tight loop per column. ``partials`` is a list of
    ``(op, values, valid)`` with int64 or float64 ``values``. Returns per partial:

    - ``sum``: ``(sums, seen, overflow)``: the sums of the non-NULL values in row order (as
      DuckDB's SUM of DOUBLE adds), whether the group had one (SQL: the SUM of no value is NULL),
      and whether an int64 running sum overflowed (the sums are then meaningless);
    - ``min``/``max``: ``(values, seen)``, the extreme non-NULL value per group (floats in
      DuckDB's order: NaN greatest);
    - ``argmin``/``argmax`` (values a sort key, as in ``topk`` ascending): the row holding the
      extreme, -1 for none; among equal values the last row, as DuckDB.

    ``dense``: the caller knows every group has a row (``group_ids`` numbering), so a partial
    without NULLs has a value in every group; otherwise that is counted once.
    """
    cdef int64_t n = group.shape[0], g
    cdef const int64_t *gp = &group[0] if n else NULL
    cdef const uint8_t *vp
    cdef cnp.ndarray values, valid
    cdef cnp.ndarray sums, seen, best
    cdef int overflow
    cdef bint maximum
    cdef list keep = []
    cdef SortKey *key
    cdef uint8_t *pp
    present = None
    for g in range(n):
        if group[g] < 0 or group[g] >= groups:
            raise ValueError(f"group number {group[g]} out of range")
    results = []
    for j, (op, values, valid_obj) in enumerate(partials):
        if values.ndim != 1 or values.shape[0] != n or not values.flags.c_contiguous:
            raise ValueError(f"partial {j}: values must be a contiguous 1-d array of {n} rows")
        if values.dtype != np.float64 and values.dtype != np.int64:
            raise ValueError(f"partial {j}: values must be int64 or float64, not {values.dtype}")
        if op not in ("sum", "min", "max", "argmin", "argmax"):
            raise ValueError(f"partial {j}: unknown op {op!r}")
        vp = NULL
        if valid_obj is not None:
            valid = valid_obj
            if valid.dtype != np.uint8 or valid.ndim != 1 or valid.shape[0] != n \
                    or not valid.flags.c_contiguous:
                raise ValueError(f"partial {j}: valid must be a contiguous uint8 array of {n} rows")
            vp = <const uint8_t *>cnp.PyArray_DATA(valid)
        maximum = op in ("max", "argmax")
        if op in ("argmin", "argmax"):
            best = np.full(groups, -1, dtype=np.int64)
            key = build_keys([(values, valid_obj, False, False)], n, keep)
            try:
                with nogil:
                    _arg_extreme(gp, n, key, <int64_t *>cnp.PyArray_DATA(best), maximum)
            finally:
                free(key)
            results.append(best)
            continue
        if vp != NULL:
            seen = np.zeros(groups, dtype=np.uint8)
        elif dense:
            seen = np.ones(groups, dtype=np.uint8)
        else:
            if present is None:
                present = np.zeros(groups, dtype=np.uint8)
                pp = <uint8_t *>cnp.PyArray_DATA(present)
                with nogil:
                    for g in range(n):
                        pp[gp[g]] = 1
            seen = present.copy()
        overflow = 0
        if op == "sum":
            if values.dtype == np.int64:
                sums = np.zeros(groups, dtype=np.int64)
                with nogil:
                    overflow = _sum_int(gp, n, groups, <const int64_t *>cnp.PyArray_DATA(values), vp,
                                        <int64_t *>cnp.PyArray_DATA(sums), <uint8_t *>cnp.PyArray_DATA(seen))
            else:
                sums = np.zeros(groups, dtype=np.float64)
                with nogil:
                    _sum_float(gp, n, <const double *>cnp.PyArray_DATA(values), vp,
                               <double *>cnp.PyArray_DATA(sums), <uint8_t *>cnp.PyArray_DATA(seen))
            results.append((sums, seen, bool(overflow)))
        elif values.dtype == np.int64:
            best = np.full(groups, INT64_MIN if maximum else INT64_MAX, dtype=np.int64)
            with nogil:
                _min_int(gp, n, <const int64_t *>cnp.PyArray_DATA(values), vp,
                         <int64_t *>cnp.PyArray_DATA(best), <uint8_t *>cnp.PyArray_DATA(seen), maximum)
            results.append((np.where(seen.view(bool), best, 0), seen))
        else:
            best = np.full(groups, -np.inf if maximum else np.nan, dtype=np.float64)
            with nogil:
                _min_float(gp, n, <const double *>cnp.PyArray_DATA(values), vp,
                           <double *>cnp.PyArray_DATA(best), <uint8_t *>cnp.PyArray_DATA(seen), maximum)
            results.append((np.where(seen.view(bool), best, 0.0), seen))
    return results
