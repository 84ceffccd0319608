"""qserv.payloads — see DESIGN.md section 2."""
