"""Chunk order for a data size and the chunk-size warning (qserv.sphere.sizing)."""

import numpy as np
import pytest

from qserv.errors import InvalidPartitioningError, UserError
from qserv.sphere import sizing
from qserv.sphere.pixels import pixel_count
from qserv.sphere.sizing import chunk_order_for_rows, chunk_size_warning

ROW_COUNTS = [0, 1, 10, 1000, 10**5, 3 * 10**5, 10**6, 10**7, 10**8, 10**9, 10**10, 10**12, 10**15]


def test_order_is_monotone_in_rows_and_within_bounds():
    orders = [chunk_order_for_rows(rows) for rows in ROW_COUNTS]
    assert orders == sorted(orders)
    assert all(sizing.MIN_CHUNK_ORDER <= order <= sizing.MAX_CHUNK_ORDER for order in orders)
    assert orders[0] == sizing.MIN_CHUNK_ORDER and orders[-1] == sizing.MAX_CHUNK_ORDER


@pytest.mark.parametrize("rows", [10**5, 10**6, 10**7, 10**8, 10**9, 5 * 10**9])
def test_order_puts_rows_per_chunk_nearest_the_target(rows):
    order = chunk_order_for_rows(rows)
    error = abs(np.log(rows / pixel_count(order) / sizing.TARGET_ROWS_PER_CHUNK))
    for other in range(sizing.MIN_CHUNK_ORDER, sizing.MAX_CHUNK_ORDER + 1):
        assert error <= abs(np.log(rows / pixel_count(other) / sizing.TARGET_ROWS_PER_CHUNK)) + 1e-12


@pytest.mark.parametrize("rows", [1000, 10**5, 10**6, 10**7, 10**8, 10**9, 10**10])
def test_no_warning_at_the_chosen_order_for_full_sky_data(rows):
    order = chunk_order_for_rows(rows)
    assert chunk_size_warning(rows / pixel_count(order), order) is None


@pytest.mark.parametrize("rows", [10**6, 10**7, 10**8, 10**9])
def test_warning_two_orders_away_names_the_chosen_order(rows):
    order = chunk_order_for_rows(rows)
    for actual in range(0, 12):
        warning = chunk_size_warning(rows / pixel_count(actual), actual)
        if abs(actual - order) >= sizing.WARN_ORDERS:
            assert warning is not None and f"use chunk order {order}" in warning
            assert ("too small" in warning) == (actual > order)
            assert "\n" not in warning
        else:
            assert warning is None


def test_quick_start_order_warns_for_a_million_rows():
    warning = chunk_size_warning(10**6 / pixel_count(7), 7)
    assert warning is not None and "too small" in warning


def test_empty_table_gets_no_warning():
    assert chunk_size_warning(0, 7) is None


@pytest.mark.parametrize("rows", [-1, 1.5, "10", True, None])
def test_bad_row_count_is_a_user_error(rows):
    with pytest.raises(InvalidPartitioningError, match="expected rows"):
        chunk_order_for_rows(rows)


@pytest.mark.parametrize("median, order", [(-1, 5), (float("nan"), 5), (float("inf"), 5), (10, 25), (10, 1.5)])
def test_bad_warning_input_is_a_user_error(median, order):
    with pytest.raises(UserError):
        chunk_size_warning(median, order)


def test_warning_starts_at_eight_times_from_the_target():
    target, order = sizing.TARGET_ROWS_PER_CHUNK, 5
    assert chunk_size_warning(0.99 * 8 * target, order) is None
    assert "use chunk order 7" in chunk_size_warning(1.01 * 8 * target, order)
    assert chunk_size_warning(1.01 * target / 8, order) is None
    assert "use chunk order 3" in chunk_size_warning(0.99 * target / 8, order)
