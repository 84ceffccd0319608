"""qserv.ingest — see DESIGN.md section 2."""
