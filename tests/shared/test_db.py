"""The database helpers that keep a batch's statements to a handful of shapes."""

from __future__ import annotations

from shared.db import padded, power_of_two_chunks


def test_padding_repeats_the_last_value_up_to_a_power_of_two() -> None:
    assert padded([]) == []
    assert padded([7]) == [7]
    assert padded([1, 2, 3]) == [1, 2, 3, 3]
    for n in range(1, 300):
        values = list(range(n))
        shaped = padded(values)
        assert shaped[:n] == values and set(shaped) == set(values)
        assert len(shaped) & (len(shaped) - 1) == 0 and len(shaped) < 2 * n
    assert len({len(padded(range(n))) for n in range(1, 257)}) == 9  # 1, 2, 4, … 256


def test_chunks_are_powers_of_two_largest_first_and_keep_every_row_in_order() -> None:
    assert list(power_of_two_chunks([])) == []
    assert [len(c) for c in power_of_two_chunks(list(range(100)))] == [64, 32, 4]
    for n in range(1, 300):
        rows = list(range(n))
        chunks = list(power_of_two_chunks(rows))
        assert [row for chunk in chunks for row in chunk] == rows
        sizes = [len(chunk) for chunk in chunks]
        assert all(size & (size - 1) == 0 for size in sizes)
        assert sizes == sorted(set(sizes), reverse=True)  # each size at most once
