"""The pure helpers of the latency-against-populated-chunks section (bench/chunk_count_bench.py)."""

from bench.chunk_count_bench import WORKLOADS, plot, spread, table_lines

POINTS = [(3, 768, dict(zip(WORKLOADS, (0.008, 0.006, 0.020)))),
          (7, 195_443, dict(zip(WORKLOADS, (0.012, 0.006, 0.010))))]
BASELINE = dict(zip(WORKLOADS, (0.001, 0.0008, 0.007)))


def test_spread_is_slowest_over_fastest_order():
    assert [round(spread(POINTS, w), 6) for w in WORKLOADS] == [1.5, 1.0, 2.0]


def test_table_lines_give_each_order_the_reference_and_the_spread():
    lines = table_lines(1_000_000, POINTS, BASELINE)
    assert lines[2] == "| 1e6 | 3 | 768 | 8 ms | 6 ms | 20 ms |"
    assert lines[3] == "| 1e6 | 7 | 195,443 | 12 ms | 6 ms | 10 ms |"
    assert lines[4] == "| 1e6 | DuckDB unsharded | — | 1 ms | 800 us | 7 ms |"
    assert lines[5] == "|  | slowest / fastest order |  | 1.50x | 1.00x | 2.00x |"


def test_plot_writes_a_png(tmp_path):
    path = plot(1_000_000, POINTS, BASELINE, tmp_path / "chunks.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
