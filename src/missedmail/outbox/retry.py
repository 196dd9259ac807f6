"""When to try a transiently failed email again (docs/decisions/0003-outbox.md).

Exponential backoff with full jitter (the delay is drawn uniformly between 0 and the
exponential ceiling): when a mail server comes back after an outage, the emails that piled
up do not all hit it again in the same second.

The default schedule, attempt by attempt (ceiling of the wait that follows the failure):

    attempt  1    2     3     4     5      6       7       8
    ceiling  30s  1min  2min  4min  8min   10min   10min   — (failed)

8 attempts; the waits add up to at most 35.5 minutes (about 18 on average), after which
the email is marked failed and an operator can requeue it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class RetryPolicy:
    base_delay_seconds: float = 30.0
    max_delay_seconds: float = 600.0
    max_attempts: int = 8

    def __post_init__(self) -> None:
        if self.base_delay_seconds <= 0 or self.max_delay_seconds < self.base_delay_seconds:
            raise ValueError("delays must satisfy 0 < base_delay_seconds <= max_delay_seconds")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def ceiling_seconds(self, attempt: int) -> float:
        """The longest wait after failed attempt number `attempt` (1-based)."""
        if attempt < 1:
            raise ValueError("attempts are numbered from 1")
        # Capping the exponent keeps 2.0**n finite however many attempts an operator allows.
        exponent = min(attempt - 1, 64)
        return min(self.max_delay_seconds, self.base_delay_seconds * 2.0**exponent)

    def delay_for(self, attempt: int, rng: random.Random) -> timedelta:
        """The wait after failed attempt number `attempt`, with full jitter."""
        return timedelta(seconds=rng.uniform(0.0, self.ceiling_seconds(attempt)))

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts


DEFAULT_RETRY_POLICY = RetryPolicy()
