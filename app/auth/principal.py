"""The authenticated caller of a request."""

from __future__ import annotations

from dataclasses import dataclass

from app.auth.models import Role


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request."""

    id: int
    username: str
    role: Role
    unit_ids: frozenset[int]

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


# The one principal for what the service does on its own behalf (seed loads, the CLI, a
# version looked up whatever its state): an administrator without an account.
SYSTEM = Principal(id=0, username="system", role=Role.ADMIN, unit_ids=frozenset())
