"""Column names for formats that need them unique (VOTable, FITS)."""


def unique_names(names):
    """``names`` with a repeated name (case-insensitively) suffixed ``_2``, ``_3``..."""
    seen, unique = {}, []
    for name in names:
        count = seen.get(name.lower(), 0) + 1
        seen[name.lower()] = count
        unique.append(name if count == 1 else f"{name}_{count}")
    return unique
