"""Limits on how fast a client may go: token buckets, on a clock that tests move by hand."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]  # seconds, only ever compared with itself


@dataclass
class Bucket:
    """`rate` requests a second, in bursts of up to `burst`; full at first."""

    rate: float
    burst: float
    clock: Clock = time.monotonic
    level: float = field(init=False)
    then: float = field(init=False)

    def __post_init__(self) -> None:
        self.level, self.then = self.burst, self.clock()

    def wait(self) -> float:
        """0 when a request may go now (and takes its place), else the seconds to wait."""
        now = self.clock()
        self.level = min(self.burst, self.level + (now - self.then) * self.rate)
        self.then = now
        if self.level < 1:
            return (1 - self.level) / self.rate
        self.level -= 1
        return 0.0


@dataclass
class RateLimit:
    """A bucket per token name, in this process: `per_minute` requests, in bursts of as many."""

    per_minute: int
    clock: Clock = time.monotonic
    buckets: dict[str, Bucket] = field(default_factory=dict)

    def wait(self, name: str) -> float:
        """0 when a request may go now (and takes its place), else the seconds to wait."""
        bucket = self.buckets.get(name)
        if bucket is None:
            bucket = self.buckets[name] = Bucket(self.per_minute / 60, self.per_minute, self.clock)
        return bucket.wait()
