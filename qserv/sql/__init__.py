"""SQL dialects in and out: Qserv SQL and ADQL parsing, emitters, and the worker-side SQL functions."""
