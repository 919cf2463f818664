import asyncio

import pytest

from apps.core.lanes import map_in_lanes


def test_results_keep_the_items_order_with_at_most_lanes_in_flight() -> None:
    in_flight = highest = 0

    async def slow_square(n: int) -> int:
        nonlocal in_flight, highest
        in_flight += 1
        highest = max(highest, in_flight)
        await asyncio.sleep(0.001 * (n % 3))  # finish out of order
        in_flight -= 1
        return n * n

    results = asyncio.run(map_in_lanes(slow_square, range(50), 8))

    assert results == [n * n for n in range(50)]
    assert highest == 8


def test_fewer_items_than_lanes_and_no_items() -> None:
    async def double(n: int) -> int:
        return 2 * n

    assert asyncio.run(map_in_lanes(double, [1, 2], 64)) == [2, 4]
    assert asyncio.run(map_in_lanes(double, [], 64)) == []


def test_an_error_is_raised_to_the_caller_and_ends_the_other_lanes() -> None:
    started: list[int] = []

    async def fail_on_three(n: int) -> int:
        started.append(n)
        await asyncio.sleep(0.001)
        if n == 3:
            raise ValueError("three")
        return n

    async def run_then_wait() -> None:
        try:
            await map_in_lanes(fail_on_three, range(20), 2)
        finally:
            await asyncio.sleep(0.05)  # time for any lane left running to go on

    with pytest.raises(ValueError, match="three"):
        asyncio.run(run_then_wait())
    assert max(started) < 6
