"""The client's address, which rate limits are counted under.

`X-Forwarded-For` is believed only when the connection comes from a proxy named in
`HOCTAP_TRUSTED_PROXIES` (none by default): otherwise any client could pick a fresh address
for every request and escape its limits. The server's own proxy-header handling is switched off
(`hoctap serve`), so this is the only place that reads the header.
"""

from __future__ import annotations

import ipaddress

from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

_MAX_HOPS = 20  # a longer chain is not a real proxy chain


class ClientAddressMiddleware:
    def __init__(self, app: ASGIApp, *, trusted_proxies: list[str]) -> None:
        self.app = app
        self.trusted = [ipaddress.ip_network(item, strict=False) for item in trusted_proxies]

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)

    def client(self, peer: str, forwarded: str | None) -> str:
        """The address of the first hop, walking back from our peer through trusted proxies."""
        if not forwarded or not self._is_trusted(peer):
            return peer
        hops = [hop.strip() for hop in forwarded.split(",")][-_MAX_HOPS:]
        current = peer
        for hop in reversed(hops):
            try:
                address = str(ipaddress.ip_address(hop))
            except ValueError:
                return current  # a malformed entry: trust nothing beyond the last proxy
            if not self._is_trusted(address):
                return address
            current = address
        return current

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            peer, port = scope.get("client") or ("unknown", 0)
            forwarded = None
            if self.trusted:
                values = [value for name, value in scope.get("headers", ()) if name == b"x-forwarded-for"]
                forwarded = ",".join(value.decode("latin-1") for value in values) if values else None
            # In place: the routing below also writes into this scope (the matched route, which
            # the access log names instead of the raw path).
            scope["client"] = (self.client(peer, forwarded), port)
        await self.app(scope, receive, send)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
