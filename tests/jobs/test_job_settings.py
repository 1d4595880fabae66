"""GW_JOBS__CRASH_RECOVERY_SECONDS: how soon a dead worker's deliveries run again, set as an operator sets it,
and never shorter than an attempt can last (or a live attempt could be started a second time)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.settings import JobSettings, Settings


def test_the_default_recovery_is_under_15_s_and_follows_the_job_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert JobSettings().recovery_seconds == 12 < 15
    monkeypatch.setenv("GW_JOBS__JOB_TIMEOUT_SECONDS", "30")
    assert Settings().jobs.recovery_seconds == 32  # derived: the job timeout + 2 s
    monkeypatch.setenv("GW_JOBS__CRASH_RECOVERY_SECONDS", "45")
    assert Settings().jobs.recovery_seconds == 45


def test_a_recovery_shorter_than_an_attempt_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GW_JOBS__CRASH_RECOVERY_SECONDS", "5")
    with pytest.raises(ValidationError, match="crash_recovery_seconds"):
        Settings()  # the default 10 s attempt could still be running when a 5 s lock lapsed


def test_a_sweeper_lease_shorter_than_the_recovery_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GW_JOBS__STALE_AFTER_SECONDS", "10")
    with pytest.raises(ValidationError, match="stale_after_seconds"):
        Settings()  # the sweeper would hand a still-running attempt to a second worker
