"""Rate limits through the `limits` library: counters in memory for one process, or in Redis
(`HOCTAP_RATE_LIMIT_STORAGE_URL`) when several workers or machines must share them. Counting a
request writes nothing to the database, so the public title check stays a pure read.

Keys never hold personal data in clear: national IDs and usernames are hashed by the caller
(`opaque`), addresses are kept as they are.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerDay, RateLimitItemPerHour, RateLimitItemPerMinute
from limits.aio.strategies import MovingWindowRateLimiter as AsyncMovingWindowRateLimiter
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from app.exceptions import Problem


@dataclass(frozen=True)
class Limit:
    """A named limit: `item` requests per window for keys under `name`."""

    name: str
    item: RateLimitItem


def per_minute(name: str, amount: int, minutes: int = 1) -> Limit:
    return Limit(name, RateLimitItemPerMinute(amount, minutes))


def per_hour(name: str, amount: int) -> Limit:
    return Limit(name, RateLimitItemPerHour(amount))


def per_day(name: str, amount: int) -> Limit:
    return Limit(name, RateLimitItemPerDay(amount))


class RateLimiter:
    """Moving-window limits over a `limits` storage (memory:// or redis://). The asyncio routes
    (the public title check) count through the library's asyncio storage on the same server,
    so a shared Redis is never waited on with the event loop blocked."""

    def __init__(self, storage_url: str, key_prefix: str = "hoctap") -> None:
        # The prefix keeps one deployment's counters apart from another's in a shared Redis.
        self._url, self._prefix = storage_url, key_prefix
        self._storage = storage_from_string(storage_url, key_prefix=key_prefix)
        self._strategy = MovingWindowRateLimiter(self._storage)
        self._async_strategy = self._new_async_strategy()

    def _new_async_strategy(self) -> AsyncMovingWindowRateLimiter:
        options = {"implementation": "redispy"} if self._url.startswith(("redis://", "rediss://")) else {}
        return AsyncMovingWindowRateLimiter(
            storage_from_string("async+" + self._url, key_prefix=self._prefix, **options)
        )

    def reset(self) -> None:
        """Forget every counter (tests; an operator lifting a block)."""
        self._storage.reset()  # on Redis this clears the asyncio side's keys too
        self._async_strategy = self._new_async_strategy()

    async def enforce_async(self, limit: Limit, *key: str) -> None:
        """`enforce`, from an asyncio route."""
        if await self._async_strategy.hit(limit.item, limit.name, *key):
            return
        reset = (await self._async_strategy.get_window_stats(limit.item, limit.name, *key)).reset_time
        raise too_many_requests(max(1, math.ceil(reset - time.time())))

    def hit(self, limit: Limit, *key: str) -> int | None:
        """Count one request; seconds to wait when it is over the limit, else None."""
        if self._strategy.hit(limit.item, limit.name, *key):
            return None
        return self.retry_after(limit, *key)

    def exhausted(self, limit: Limit, *key: str) -> int | None:
        """Without counting: seconds to wait if one more request would be refused, else None."""
        if self._strategy.test(limit.item, limit.name, *key):
            return None
        return self.retry_after(limit, *key)

    def retry_after(self, limit: Limit, *key: str) -> int:
        reset = self._strategy.get_window_stats(limit.item, limit.name, *key).reset_time
        # Seconds of the limiter's own clock (the `limits` storages count in epoch seconds).
        return max(1, math.ceil(reset - time.time()))

    def enforce(self, limit: Limit, *key: str) -> None:
        """Count one request and refuse it with 429 when over the limit."""
        wait = self.hit(limit, *key)
        if wait is not None:
            raise too_many_requests(wait)

    def refuse_if_exhausted(self, limit: Limit, *key: str) -> None:
        wait = self.exhausted(limit, *key)
        if wait is not None:
            raise too_many_requests(wait)


def too_many_requests(retry_after: int) -> Problem:
    return Problem(
        429,
        "too_many_requests",
        "Quá nhiều yêu cầu",
        f"Đã vượt giới hạn yêu cầu. Vui lòng thử lại sau {retry_after} giây.",
        headers={"Retry-After": str(retry_after)},
    )


def opaque(value: str) -> str:
    """A key part that does not reveal the value (for national IDs and usernames)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]


def network_of(address: str) -> str:
    """The unit a client is counted under: its IPv4 address, or its IPv6 /64 (one subscriber
    usually holds a whole /64, so counting single IPv6 addresses would count nothing)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
