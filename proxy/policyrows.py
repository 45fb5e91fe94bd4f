"""How a policy is a row of the ``policies`` table: its schema, written and read back."""

from __future__ import annotations

import json
import sqlite3

from proxy.audit import StoreError, utc_now
from proxy.policies import Policy, PolicyError

__all__ = ["POLICY_COLUMNS", "POLICY_SCHEMA", "read_policy", "write_policy"]

POLICY_SCHEMA = """
CREATE TABLE policies (
    site TEXT PRIMARY KEY,
    enabled INTEGER NOT NULL,
    filters TEXT NOT NULL,
    strength TEXT NOT NULL,
    on_failure TEXT NOT NULL,
    updated TEXT NOT NULL
);
"""
POLICY_COLUMNS = "site, enabled, filters, strength, on_failure, profile, faces"


def write_policy(db: sqlite3.Connection, policy: Policy) -> None:
    db.execute(
        f"INSERT OR REPLACE INTO policies ({POLICY_COLUMNS}, updated) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            policy.site,
            int(policy.enabled),
            json.dumps(list(policy.filters)),
            policy.strength,
            policy.on_failure,
            policy.profile,
            policy.faces,
            utc_now(),
        ),
    )


def read_policy(row: tuple) -> Policy:
    site, enabled, filters, strength, on_failure, profile, faces = row
    try:
        return Policy(
            site, bool(enabled), tuple(json.loads(filters)), strength, on_failure, profile, faces
        )
    except (PolicyError, ValueError, TypeError) as error:
        raise StoreError(f"stored policy {site!r} is unusable: {error}") from error
