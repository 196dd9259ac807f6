"""When to try an email again (docs/reliability.md, docs/decisions/0003-outbox.md).

Two schedules, for two different kinds of trouble:

- **A transient failure of one email** (a 4xx reply, a connection lost mid-transaction):
  exponential backoff with full jitter, the wait drawn uniformly between 0 and a ceiling
  that doubles from `base_delay_seconds` up to `max_delay_seconds`; after `max_attempts`
  the email is failed and an operator can requeue it. The default schedule (ceiling of the
  wait that follows each failed attempt):

      attempt  1    2     3     4     5      6       7       8
      ceiling  30s  1min  2min  4min  8min   10min   10min   — (failed)

  8 attempts; the waits add up to at most 35.5 minutes (about 18 on average). Full jitter:
  when a server comes back, the emails that failed together do not all return in the
  same second.

- **The mail server is unavailable** (it cannot be reached, or refuses us before any mail
  transaction; the outbox folder cannot be written): nothing is wrong with the emails, so
  they keep their attempts and simply wait. The sender probes again after 1, 2, 4, … up to
  `outage_max_delay_seconds` (60 s), each wait jittered between half and all of it, so an
  outage of any length ends with every waiting email delivered within about a minute of
  the server's return.

The delays are stored in the database (`next_attempt_at`), not kept by a sleeping thread,
so a restart keeps the schedule.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

# Capping the exponent keeps 2.0**n finite however many attempts an operator allows.
MAX_EXPONENT = 64


@dataclass(frozen=True)
class RetryPolicy:
    base_delay_seconds: float = 30.0
    max_delay_seconds: float = 600.0
    max_attempts: int = 8
    outage_initial_delay_seconds: float = 1.0
    outage_max_delay_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.base_delay_seconds <= 0 or self.max_delay_seconds < self.base_delay_seconds:
            raise ValueError("delays must satisfy 0 < base_delay_seconds <= max_delay_seconds")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 < self.outage_initial_delay_seconds <= self.outage_max_delay_seconds:
            raise ValueError(
                "delays must satisfy 0 < outage_initial_delay_seconds <= outage_max_delay_seconds"
            )

    def ceiling_seconds(self, attempt: int) -> float:
        """The longest wait after failed attempt number `attempt` (1-based)."""
        if attempt < 1:
            raise ValueError("attempts are numbered from 1")
        exponent = min(attempt - 1, MAX_EXPONENT)
        return min(self.max_delay_seconds, self.base_delay_seconds * 2.0**exponent)

    def delay_for(self, attempt: int, rng: random.Random) -> timedelta:
        """The wait after failed attempt number `attempt`, with full jitter."""
        return timedelta(seconds=rng.uniform(0.0, self.ceiling_seconds(attempt)))

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts

    def longest_schedule_seconds(self) -> float:
        """The most time the waits between the first and the last attempt can add up to."""
        return sum(self.ceiling_seconds(attempt) for attempt in range(1, self.max_attempts))

    def outage_ceiling_seconds(self, failures: int) -> float:
        """The longest wait after the `failures`-th consecutive time the server was
        unavailable (1-based)."""
        if failures < 1:
            raise ValueError("failures are counted from 1")
        exponent = min(failures - 1, MAX_EXPONENT)
        return min(self.outage_max_delay_seconds, self.outage_initial_delay_seconds * 2.0**exponent)

    def outage_delay(self, failures: int, rng: random.Random) -> timedelta:
        """When to look at an unavailable server again: between half and all of the ceiling.

        Half at least, unlike the per-email schedule: these probes are what keeps a worker
        from hammering a server that is down, and several workers probe independently.
        """
        ceiling = self.outage_ceiling_seconds(failures)
        return timedelta(seconds=rng.uniform(ceiling / 2, ceiling))


DEFAULT_RETRY_POLICY = RetryPolicy()
