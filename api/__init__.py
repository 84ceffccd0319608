"""qserv.api — see DESIGN.md section 2."""
