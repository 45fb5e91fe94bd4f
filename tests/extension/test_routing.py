"""The extension routes exactly the hosts Veil protects: its JS rule against proxy.policies."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from proxy.policies import DEFAULT_POLICIES, Policy, best_policy
from tests.extension.conftest import EXTENSION_SRC

POLICIES = [
    *DEFAULT_POLICIES,
    Policy("*.example.com"),
    Policy("off.example.com", enabled=False),
    Policy("*.quiet.example.org", enabled=False),
    Policy("loud.quiet.example.org"),
]
HOSTS = [
    "example.com", "a.example.com", "a.b.example.com", "off.example.com", "x.off.example.com",
    "badexample.com", "example.com.evil.net", "EXAMPLE.COM.", "quiet.example.org",
    "loud.quiet.example.org", "x.loud.quiet.example.org", "i.imgur.com", "imgur.com",
    "mastodon.social", "files.mastodon.social", "bsky.social", "cdn.bsky.social", "localhost",
]  # fmt: skip

# For each host: the PAC script's answer and isRouted's, from the extension's own module.
SCRIPT = """
const routing = await import(process.argv[1]);
const [policies, hosts] = JSON.parse(process.argv[2]);
const pac = new Function(routing.pacScript(policies, 8350) + "; return FindProxyForURL;")();
const answer = (host) => [pac("https://" + host + "/", host), routing.isRouted(policies, host)];
const out = hosts.map(answer);
console.log(JSON.stringify(out));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node: make sysdeps")
def test_pac_script_and_firefox_rule_agree_with_veil() -> None:
    policies = [{"site": p.site, "enabled": p.enabled} for p in POLICIES]
    result = subprocess.run(
        ["node", "--input-type=module", "-e", SCRIPT, "--",
         (EXTENSION_SRC / "lib" / "routing.js").as_uri(), json.dumps([policies, HOSTS])],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    answers = json.loads(result.stdout)
    for host, (pac, routed) in zip(HOSTS, answers, strict=True):
        policy = best_policy(POLICIES, host.rstrip("."))
        expected = policy is not None and policy.enabled
        assert routed is expected, host
        assert pac == ("PROXY 127.0.0.1:8350" if expected else "DIRECT"), host
