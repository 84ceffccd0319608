"""`qserv demo` (make demo) runs end to end on the bundled catalogs."""

from qserv.demo import QUERIES, run_demo


def test_demo_runs_every_query(tmp_path):
    lines = []
    run_demo(tmp_path / "home", echo=lines.append)
    lines = "\n".join(lines).splitlines()
    results = [line for line in lines if line.lstrip().startswith("->") and "rows in" in line]
    assert len(results) == len(QUERIES)
    assert any("loaded demo.gaia: 482,176 rows" in line for line in lines)
