"""Bounded retries with exponential backoff and full jitter."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = ["RetryPolicy", "is_transient_default"]


def is_transient_default(error: BaseException) -> bool:
    """Timeouts and connection errors are worth another try; anything else is not."""
    return isinstance(error, TimeoutError | ConnectionError)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often, and how patiently, to try an operation again.

    ``attempts`` counts every try, the first included, so ``attempts=1`` never retries.
    The wait before try ``n + 1`` is drawn uniformly from
    ``[0, min(max_delay, base_delay * 2 ** (n - 1))]`` ("full jitter"), so many processes
    retrying the same service do not retry in step.
    """

    attempts: int = 3
    base_delay: float = 0.05
    max_delay: float = 2.0
    retry_on: Callable[[BaseException], bool] = is_transient_default
    """Whether an error is transient (worth retrying). Permanent errors stop at once."""

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("a retry policy needs at least one attempt")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("retry delays cannot be negative")

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        """The waits between tries: ``attempts - 1`` of them."""
        draw = (rng or _jitter).uniform
        for retry in range(self.attempts - 1):
            yield draw(0.0, min(self.max_delay, self.base_delay * 2.0**retry))

    @classmethod
    def never(cls) -> RetryPolicy:
        """One try, no retry."""
        return cls(attempts=1)


_jitter = random.Random()  # noqa: S311 - jitter needs spread, not secrecy
