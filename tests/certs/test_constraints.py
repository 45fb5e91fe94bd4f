"""Name constraints from site patterns, and whether an existing CA's constraints cover sites."""

from __future__ import annotations

import ipaddress

import pytest
from cryptography import x509

from certs import constraints
from certs.ca import create_ca
from certs.constraints import NOTHING, covers, name_constraints, permits


def values(names: list[x509.GeneralName] | None) -> list[str]:
    return [str(name.value) for name in names or []]


def test_each_site_permits_its_domain_and_every_ip_is_out() -> None:
    made = name_constraints(
        ["*.bsky.network", "bsky.social", "*.Mastodon.social", "mastodon.social"]
    )
    assert values(made.permitted_subtrees) == ["bsky.network", "bsky.social", "mastodon.social"]
    assert values(made.excluded_subtrees) == ["0.0.0.0/0", "::/0"]


def test_a_name_under_another_adds_nothing() -> None:
    made = name_constraints(["a.b.example", "*.b.example", "upload.c.example", "c.example"])
    assert values(made.permitted_subtrees) == ["b.example", "c.example"]


def test_an_ip_site_is_permitted_alone_with_the_proxy_address() -> None:
    made = name_constraints(["10.0.0.5", "*.example.com"])
    ips = [n.value for n in made.permitted_subtrees or [] if isinstance(n, x509.IPAddress)]
    # mitmproxy names the address the client reached it on (127.0.0.1) in an IP site's leaf.
    assert ips == [ipaddress.ip_network(n) for n in ("10.0.0.5/32", "127.0.0.1/32", "::1/128")]
    assert not any(isinstance(n, x509.IPAddress) for n in made.excluded_subtrees or [])
    assert permits(made, "10.0.0.5") and not permits(made, "10.0.0.6")
    assert not permits(made, "2001:db8::1")


def test_no_site_permits_only_a_reserved_name() -> None:
    made = name_constraints([])
    assert values(made.permitted_subtrees) == [NOTHING]
    assert not permits(made, "example.com") and not permits(made, "10.0.0.1")


@pytest.mark.parametrize(
    ("sites", "site", "expected"),
    [
        (["*.example.com"], "example.com", True),
        (["*.example.com"], "upload.example.com", True),
        (["*.example.com"], "*.upload.example.com", True),
        (["*.example.com"], "example.org", False),
        (["*.example.com"], "badexample.com", False),
        (["photos.example.com"], "photos.example.com", True),
        (["photos.example.com"], "a.photos.example.com", True),  # a DNS subtree, always
        (["photos.example.com"], "example.com", False),
        (["photos.example.com"], "otherphotos.example.com", False),
        (["bsky.social"], "bank.example", False),
        (["10.0.0.5"], "10.0.0.5", True),
        (["2001:db8::5"], "2001:db8::5", True),
        (["2001:db8::5"], "10.0.0.5", False),  # IPv4: the proxy address only
        (["*.example.com"], "10.0.0.5", False),
    ],
)
def test_permits(sites: list[str], site: str, expected: bool) -> None:
    assert permits(name_constraints(sites), site) is expected


def test_covers_more_sites_never_fewer() -> None:
    _, cert = create_ca("Veil", "t", sites=["*.example.com", "bsky.social"])
    assert covers(cert, ["*.example.com", "bsky.social"])
    assert covers(cert, ["upload.example.com"])  # fewer or narrower: still covered
    assert covers(cert, [])
    assert not covers(cert, ["*.example.com", "new.example.org"])
    assert not covers(cert, ["bsky.app"])


def test_a_ca_without_constraints_covers_nothing() -> None:
    _, plain = create_ca("Veil", "t")
    assert not covers(plain, [])


def test_public_surface_matches_all() -> None:
    own = {
        n
        for n, v in vars(constraints).items()
        if getattr(v, "__module__", None) == constraints.__name__
    }
    assert {n for n in own if not n.startswith("_")} <= set(constraints.__all__)
