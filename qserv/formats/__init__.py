"""Result formats written by qserv's own vectorised, streaming writers (VOTable)."""
