"""Limits on how fast a client may write."""

import time
from dataclasses import dataclass, field


@dataclass
class RateLimit:
    """A token bucket per token name, in this process: `per_minute` requests, in bursts of
    as many."""

    per_minute: int
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # tokens, when

    def wait(self, name: str) -> float:
        """0 when a request may go now (and takes its place), else the seconds to wait."""
        now = time.monotonic()
        rate = self.per_minute / 60
        level, then = self.buckets.get(name, (float(self.per_minute), now))
        level = min(float(self.per_minute), level + (now - then) * rate)
        if level < 1:
            self.buckets[name] = (level, now)
            return (1 - level) / rate
        self.buckets[name] = (level - 1, now)
        return 0.0
