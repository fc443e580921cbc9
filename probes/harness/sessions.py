"""Authenticated sessions per profile user: log in once, log in again only when asked."""

from __future__ import annotations

from probes.harness.auth import AuthSession, log_in
from probes.harness.client import ProbeClient
from probes.harness.evidence import Redactor
from probes.harness.profile import user_refs
from probes.harness.target import Target

LOGIN_BUDGET = 200


class SessionPool:
    def __init__(self, target: Target, redactor: Redactor) -> None:
        self.target = target
        self.redactor = redactor
        self._client = ProbeClient(target.base_url, redactor, budget=LOGIN_BUDGET)
        self._sessions: dict[str, AuthSession] = {}

    def has(self, role: str) -> bool:
        return role in user_refs(self.target.profile)

    def get(self, role: str = "user") -> AuthSession:
        if role not in self._sessions:
            self._sessions[role] = self.fresh(role)
        return self._sessions[role]

    def fresh(self, role: str = "user", via: ProbeClient | None = None) -> AuthSession:
        """A new login (new tokens), e.g. for a check that revokes what it holds.

        ``via`` records the login in that client's evidence. Locally each login comes from its
        own loopback address, so the per-IP login limit of a secure target does not stall the
        audit; remotely all come from this host.
        """
        client = via or self._client
        if self.target.mode == "local":
            with client.from_source(self.target.sources.next()) as sender:
                session = log_in(sender, self.target.profile, role)
        else:
            session = log_in(client, self.target.profile, role)
        if session.refresh:
            self.redactor.add_secret(session.refresh)
        return session

    def close(self) -> None:
        self._client.close()
