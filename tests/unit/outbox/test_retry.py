from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from missedmail.outbox.retry import DEFAULT_RETRY_POLICY, RetryPolicy


def test_the_default_ceilings_double_from_30_seconds_up_to_10_minutes() -> None:
    ceilings = [DEFAULT_RETRY_POLICY.ceiling_seconds(attempt) for attempt in range(1, 9)]

    assert ceilings == [30, 60, 120, 240, 480, 600, 600, 600]


def test_the_default_schedule_gives_up_after_8_attempts_within_36_minutes() -> None:
    policy = DEFAULT_RETRY_POLICY
    waits = [policy.ceiling_seconds(attempt) for attempt in range(1, policy.max_attempts)]

    assert policy.max_attempts == 8
    assert sum(waits) == 35.5 * 60  # the longest possible; jitter makes it ~18 on average
    assert not policy.exhausted(7)
    assert policy.exhausted(8)


@given(attempt=st.integers(min_value=1, max_value=10_000), seed=st.integers())
def test_a_delay_is_never_negative_nor_above_its_ceiling(attempt: int, seed: int) -> None:
    delay = DEFAULT_RETRY_POLICY.delay_for(attempt, random.Random(seed))

    assert timedelta(0) <= delay <= timedelta(seconds=DEFAULT_RETRY_POLICY.ceiling_seconds(attempt))


def test_full_jitter_spreads_the_retries_of_emails_that_failed_together() -> None:
    rng = random.Random(7)
    delays = [DEFAULT_RETRY_POLICY.delay_for(5, rng).total_seconds() for _ in range(200)]

    assert len(set(delays)) == 200
    assert min(delays) < 480 / 4
    assert max(delays) > 480 * 3 / 4


@pytest.mark.parametrize(
    "arguments",
    [
        {"base_delay_seconds": 0},
        {"base_delay_seconds": 60, "max_delay_seconds": 30},
        {"max_attempts": 0},
        {"outage_initial_delay_seconds": 0},
        {"outage_initial_delay_seconds": 10, "outage_max_delay_seconds": 5},
    ],
)
def test_a_policy_that_makes_no_sense_is_refused(arguments: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 -- the message is not what this is about
        RetryPolicy(**arguments)


def test_attempts_are_numbered_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        DEFAULT_RETRY_POLICY.ceiling_seconds(0)


def test_the_longest_schedule_is_the_sum_of_the_ceilings_between_attempts() -> None:
    policy = RetryPolicy(base_delay_seconds=2, max_delay_seconds=5, max_attempts=4)

    assert policy.longest_schedule_seconds() == 2 + 4 + 5
    assert DEFAULT_RETRY_POLICY.longest_schedule_seconds() == 35.5 * 60


def test_an_unavailable_server_is_probed_after_1_2_4_seconds_up_to_a_minute() -> None:
    ceilings = [DEFAULT_RETRY_POLICY.outage_ceiling_seconds(n) for n in range(1, 10)]

    assert ceilings == [1, 2, 4, 8, 16, 32, 60, 60, 60]


@given(failures=st.integers(min_value=1, max_value=10_000), seed=st.integers())
def test_an_outage_probe_waits_between_half_and_all_of_its_ceiling(
    failures: int, seed: int
) -> None:
    policy = DEFAULT_RETRY_POLICY
    ceiling = policy.outage_ceiling_seconds(failures)

    delay = policy.outage_delay(failures, random.Random(seed)).total_seconds()

    assert ceiling / 2 <= delay <= ceiling


def test_outage_failures_are_counted_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        DEFAULT_RETRY_POLICY.outage_ceiling_seconds(0)
