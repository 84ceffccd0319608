"""qserv benchmarks: ``python -m bench`` (``make bench``). Results go to bench/results/."""
