"""qserv.schema — see DESIGN.md section 2."""
