"""qserv.migrations — see DESIGN.md section 2."""
