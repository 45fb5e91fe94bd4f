"""proxy/policybook.py: the policies the hooks consult, reloaded on change."""

from __future__ import annotations

from pathlib import Path

from proxy.policies import Policy
from proxy.policybook import PolicyBook
from proxy.store import Store


def test_enabled_policies_cover_hosts_and_reloads_are_heard(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "veil.db", seed_defaults=False)
    store.put_policy(Policy(site="*.example.com"))
    store.put_policy(Policy(site="off.example.com", enabled=False))
    book = PolicyBook(store)
    heard: list[int] = []
    book.on_reload(lambda: heard.append(1))
    assert book.policy_for("a.example.com") is not None
    assert book.policy_for("off.example.com") is None  # disabled shadows the wider policy
    assert book.policy_for(None, "", "cdn.example.com").site == "*.example.com"
    assert book.policy_for("new.example.org") is None
    store.put_policy(Policy(site="new.example.org"))
    assert book.policy_for("new.example.org") is None  # until reloaded
    book.reload()
    assert book.policy_for("new.example.org") is not None and heard == [1]
    store.close()
