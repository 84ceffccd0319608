"""Naming where a row came from, for error messages: file (or batch) and 1-based row number."""

from dataclasses import dataclass


@dataclass(frozen=True)
class RowOrigin:
    """Rows of one batch: ``source`` names the file or batch, ``first_row`` is the 1-based data
    row number of the batch's first row within the source."""

    source: str
    first_row: int = 1

    def row(self, index):
        """The 1-based row number in the source of the batch row at 0-based ``index``."""
        return self.first_row + int(index)
