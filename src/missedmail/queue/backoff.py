"""Exponential backoff for in-process retry loops (a lost broker, a failing batch)."""

from __future__ import annotations


class Backoff:
    """Delays of initial, 2x initial, 4x initial, ... capped at `max_seconds`.

    No jitter: a handful of workers reconnecting to one broker is no thundering herd.
    """

    def __init__(self, initial_seconds: float, max_seconds: float) -> None:
        self.initial_seconds = initial_seconds
        self.max_seconds = max_seconds
        self._next_seconds = initial_seconds

    def next_delay_seconds(self) -> float:
        delay = self._next_seconds
        self._next_seconds = min(self.max_seconds, delay * 2)
        return min(delay, self.max_seconds)

    def reset(self) -> None:
        self._next_seconds = self.initial_seconds
