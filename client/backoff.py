"""Exponential backoff with jitter, shared by every Skiff client (API, store, informer).

    Backoff(base=0.05, cap=2.0).delay(attempt, rng)   # about base * 2**attempt, +-20 %, at most cap
"""
from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: attempt n waits about base * factor**n, at most `cap`."""

    base: float = 0.05
    factor: float = 2.0
    cap: float = 2.0
    jitter: float = 0.2  # the delay is nominal * (1 +- jitter), then capped

    def __post_init__(self):
        if not (self.base > 0 and self.factor >= 1 and self.cap >= self.base and 0 <= self.jitter < 1):
            raise ValueError(f"invalid backoff {self}: need base > 0, factor >= 1, cap >= base, "
                             f"0 <= jitter < 1")

    def nominal(self, attempt: int) -> float:
        try:
            return min(self.cap, self.base * self.factor ** attempt)
        except OverflowError:
            return self.cap

    def delay(self, attempt: int, rng: random.Random) -> float:
        spread = self.jitter * (2.0 * rng.random() - 1.0)
        return min(self.cap, self.nominal(attempt) * (1.0 + spread))
