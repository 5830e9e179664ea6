"""API keys and per-key rate limits of `askdocs serve`.

Keys come from the `api_keys` setting (env ASKDOCS_API_KEYS) as comma-separated
ID:SECRET[:write]. The ID is what logs and errors name; the secret never leaves this module.
"""

from __future__ import annotations

import hmac
import ipaddress
import threading
import time
from dataclasses import dataclass

READ = "read"
WRITE = "write"
SCOPES = (READ, WRITE)
MIN_SECRET_CHARS = 16
"""A shorter secret is guessable by brute force over the network: refused at start-up."""


class ApiKeyError(ValueError):
    """The api_keys setting cannot be parsed."""


@dataclass(frozen=True)
class ApiKey:
    id: str
    secret: str
    scope: str  # READ: ask and search; WRITE: also add and remove articles

    def allows(self, scope: str) -> bool:
        return scope == READ or self.scope == WRITE


def parse_keys(text: str) -> list[ApiKey]:
    """ID:SECRET[:write] entries, comma-separated (whitespace around them ignored)."""
    keys: list[ApiKey] = []
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        parts = entry.split(":")
        if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
            raise ApiKeyError(f"an API key must be ID:SECRET or ID:SECRET:write, got {parts[0]!r}…")
        scope = parts[2] if len(parts) == 3 else READ
        if scope not in SCOPES:
            raise ApiKeyError(f"key {parts[0]!r}: scope must be read or write, got {scope!r}")
        if len(parts[1]) < MIN_SECRET_CHARS:
            raise ApiKeyError(
                f"key {parts[0]!r}: the secret has {len(parts[1])} characters, "
                f"fewer than {MIN_SECRET_CHARS}"
            )
        if any(k.id == parts[0] for k in keys):
            raise ApiKeyError(f"key id {parts[0]!r} is given twice")
        keys.append(ApiKey(parts[0], parts[1], scope))
    return keys


def find_key(keys: list[ApiKey], presented: str) -> ApiKey | None:
    """The key whose secret is `presented`. Every key is compared, each in constant time, so
    the time taken says nothing about how much of a secret matched or which key it was."""
    found = None
    given = presented.encode()
    for key in keys:
        if hmac.compare_digest(key.secret.encode(), given):
            found = key
    return found


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def is_loopback(host: str) -> bool:
    """Whether listening on `host` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class RateLimiter:
    """A token bucket per caller: `per_minute` requests a minute, up to `per_minute` at once."""

    def __init__(self, per_minute: int, clock=time.monotonic) -> None:
        self.capacity = float(per_minute)
        self.refill = per_minute / 60.0
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, caller: str) -> float:
        """0 when the request may go ahead, else the seconds until it may."""
        with self._lock:
            now = self.clock()
            tokens, last = self._buckets.get(caller, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.refill)
            if tokens >= 1.0:
                self._buckets[caller] = (tokens - 1.0, now)
                return 0.0
            self._buckets[caller] = (tokens, now)
            return (1.0 - tokens) / self.refill
