"""The policies the proxy's hooks consult: read from the store once, reloaded on change.

Every addon asks the one :class:`PolicyBook`; the control API calls :meth:`reload` after
each change, and addons that hold state about hosts (open tunnels) hear of it.
"""

from __future__ import annotations

from collections.abc import Callable

from proxy.policies import Policy, best_policy
from proxy.store import Store

__all__ = ["PolicyBook"]


class PolicyBook:
    """The enabled site policies, cached for the proxy's hooks."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._policies: list[Policy] = store.list_policies()
        self._listeners: list[Callable[[], None]] = []

    def policy_for(self, *hosts: str | None) -> Policy | None:
        """The enabled policy that covers any of the hosts, or None when they are unprotected."""
        for host in hosts:
            if host:
                policy = best_policy(self._policies, host)
                if policy is not None and policy.enabled:
                    return policy
        return None

    def reload(self) -> None:
        """Re-read the store: the next connection and upload see the change."""
        self._policies = self._store.list_policies()
        for listener in self._listeners:
            listener()

    def on_reload(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after each reload."""
        self._listeners.append(listener)
