"""MySQL text dumps (``SELECT ... INTO OUTFILE`` / ``mysqldump --tab`` with the default options):
tab-separated fields, ``\\n``-terminated rows, backslash escapes, ``\\N`` for NULL. Each block of
whole rows is split and unescaped with numpy, without a loop over rows. The rules are stated in
``qserv.ingest.readers``; ``source`` is its per-file reader state (columns, conversion, errors).
"""

import numpy as np
import pyarrow as pa

# MySQL escapes: the byte after a backslash -> the byte it stands for (others stand for themselves).
UNESCAPE = np.arange(256, dtype=np.uint8)
UNESCAPE[list(b"0bnrtZ")] = list(b"\0\b\n\r\t\x1a")
TAB, NEWLINE, BACKSLASH = 9, 10, 92


def mysql_batches(source, null, block_bytes):
    """MySQL text: each block of whole rows is split and unescaped by numpy, with no row loop."""
    marker = np.frombuffer(null.encode(), np.uint8)
    names = [column.name for column in source.columns]
    row, line, rest = 1, 1, b""
    with pa.input_stream(source.path) as stream:
        while True:
            try:
                piece = stream.read(block_bytes)
            except (pa.ArrowException, OSError) as exc:
                raise source.error(f"unreadable from this row on: {exc}", row=row) from None
            buffer = rest + piece
            if not piece:
                if not buffer:
                    return
                buffer += b"\n"  # the last row may lack its newline
            end = _last_row_end(buffer)
            if end == 0:  # no whole row yet: read on, unless the file has ended
                if not piece:
                    raise source.error("the file ends inside an escape sequence (truncated?)",
                                       row=row)
                rest = buffer
                continue
            block, rest = np.frombuffer(buffer, np.uint8, end), buffer[end:]
            locate = _mysql_locator(block, row, line)
            arrays, num_rows = _mysql_block(source, block, names, marker, locate)
            yield source.batch(arrays, num_rows, locate)
            row, line = row + num_rows, line + int(np.count_nonzero(block == NEWLINE))


def _last_row_end(buffer):
    """Index just past the last newline of ``buffer`` that no backslash escapes (0 if none)."""
    end = len(buffer)
    while (newline := buffer.rfind(b"\n", 0, end)) >= 0:
        start = newline
        while start > 0 and buffer[start - 1] == BACKSLASH:
            start -= 1
        if (newline - start) % 2 == 0:
            return newline + 1
        end = newline
    return 0


def _split(block):
    """Escaping backslashes, field ends (unescaped tabs and newlines), and which ends end a row."""
    backslashes = np.flatnonzero(block == BACKSLASH)
    run_start = np.ones(len(backslashes), bool)
    run_start[1:] = np.diff(backslashes) != 1
    run_first = backslashes[run_start][np.cumsum(run_start) - 1]
    escapes = backslashes[(backslashes - run_first) % 2 == 0]  # 1st, 3rd... of each run
    ends = np.flatnonzero((block == TAB) | (block == NEWLINE))
    if escapes.size:
        ends = ends[~np.isin(ends, escapes + 1)]
    return escapes, ends, np.flatnonzero(block[ends] == NEWLINE)


def _mysql_block(source, block, names, marker, locate):
    """The fields (binary arrays by column name) and the row count of a block of whole rows."""
    escapes, ends, row_ends = _split(block)
    counts = np.diff(row_ends, prepend=-1)
    if (bad := np.flatnonzero(counts != len(names))).size:
        raise source.fields_error(int(counts[bad[0]]), names, **locate(int(bad[0])))
    starts = np.concatenate([[0], ends[:-1] + 1])
    lengths = ends - starts
    is_null = lengths == len(marker)
    for k, byte in enumerate(marker):
        is_null[is_null] &= block[starts[is_null] + k] == byte
    lengths -= np.bincount(np.searchsorted(ends, escapes), minlength=len(ends))
    offsets = np.zeros(len(ends) + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    keep = np.ones(len(block), bool)
    keep[ends] = keep[escapes] = False
    if escapes.size:
        block = block.copy()
        block[escapes + 1] = UNESCAPE[block[escapes + 1]]
    buffers = [pa.py_buffer(np.packbits(~is_null, bitorder="little")), pa.py_buffer(offsets),
               pa.py_buffer(block[keep])]
    fields = pa.Array.from_buffers(pa.binary(), len(ends), buffers)
    step = len(names)
    return {name: fields.take(np.arange(k, len(ends), step)) for k, name in enumerate(names)}, \
        len(row_ends)


def _mysql_locator(block, row, line):
    """i -> row and physical line of the i-th row of ``block`` (worked out for errors only)."""
    def locate(i):
        ends, row_ends = _split(block)[1:]
        start = ends[row_ends[i - 1]] + 1 if i else 0
        return {"row": row + i, "line": line + int(np.count_nonzero(block[:start] == NEWLINE))}
    return locate
