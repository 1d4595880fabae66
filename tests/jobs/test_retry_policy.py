"""The retry schedule: about three days over ten attempts, jittered, never shorter than Retry-After."""

from __future__ import annotations

import random

from gateway.jobs.retry import STANDARD_WEBHOOKS_SCHEDULE, RetryPolicy


def test_default_schedule_spans_about_three_days_in_ten_attempts() -> None:
    policy = RetryPolicy()
    assert policy.max_attempts == 10
    assert 72 * 3600 <= sum(STANDARD_WEBHOOKS_SCHEDULE) <= 76 * 3600
    assert policy.next_delay(10) is None  # the tenth failure is final


def test_jitter_stays_within_its_band_and_varies() -> None:
    policy = RetryPolicy(jitter=0.2, rng=random.Random(7))
    delays = [policy.next_delay(2) for _ in range(200)]  # nominal 5 min
    assert all(d is not None and 240 <= d <= 360 for d in delays)
    assert len({round(d or 0) for d in delays}) > 20


def test_retry_after_is_a_floor_capped_at_a_day() -> None:
    policy = RetryPolicy(jitter=0)
    assert policy.next_delay(1, retry_after=120) == 120  # schedule says 5 s, the party asked for 2 min
    assert policy.next_delay(3, retry_after=10) == 1800  # a shorter ask does not speed up the schedule
    assert policy.next_delay(1, retry_after=10 * 86400) == 86400
