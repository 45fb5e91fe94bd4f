"""proxy/sites.py and proxy/policies.py: site patterns, matching, parsing, the defaults."""

from __future__ import annotations

import pytest
from publicsuffix2 import PublicSuffixList

from proxy import policies, sites
from proxy.policies import (
    ACTIVITY_FILTERS,
    ACTIVITY_POLICIES,
    DEFAULT_POLICIES,
    MAX_FILTERS,
    Policy,
    PolicyError,
    best_policy,
    parse_policy,
)
from proxy.sites import normalize_host, normalize_site, public_suffix_under, site_matches

KNOWN = ("metadata", "pfgsm", "colorfool")


@pytest.mark.parametrize("module", [policies, sites])
def test_all_matches_public_names(module) -> None:
    assert all(hasattr(module, name) for name in module.__all__)
    assert len(set(module.__all__)) == len(module.__all__)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Photos.Example.COM", "photos.example.com"),
        ("photos.example.com.", "photos.example.com"),
        ("  *.Example.com. ", "*.example.com"),
        ("*.Example.co.uk", "*.example.co.uk"),
        ("co.uk", "co.uk"),  # an exact host is one site, even a public suffix
        ("*.user.github.io", "*.user.github.io"),
        ("*.city.kawasaki.jp", "*.city.kawasaki.jp"),  # the exception !city.kawasaki.jp
        ("*.off.example", "*.off.example"),  # unlisted TLD: only the TLD is a suffix
        ("Bücher.example", "xn--bcher-kva.example"),
        ("*.bücher.example", "*.xn--bcher-kva.example"),
        ("localhost", "localhost"),
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]", "::1"),
    ],
)
def test_normalize_site_accepts(text: str, expected: str) -> None:
    assert normalize_site(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "*",
        "*.",
        "*.com",
        "a.*.example.com",
        "*example.com",
        "*.*.example.com",
        "https://example.com",
        "example.com/upload",
        "example.com:443",
        "example.com?x=1",
        "exa mple.com",
        "under_score.example.com",
        "-leading.example.com",
        "a..b.com",
        "x" * 64 + ".com",
        ".".join(["abcdefghi"] * 30),
        "*.127.0.0.1",
        "exa\x00mple.com",
        "xn--zz.example",  # punycode that decodes to nothing valid
        "*.xn--zz.example",
    ],
)
def test_normalize_site_rejects(text: str) -> None:
    with pytest.raises(PolicyError, match=r"\w"):
        normalize_site(text)


@pytest.mark.parametrize(
    ("text", "suffix"),
    [
        ("*.co.uk", "co.uk"),
        ("*.Com.AU.", "com.au"),
        ("*.github.io", "github.io"),  # private section: refused as well
        ("*.blogspot.com", "blogspot.com"),
        ("*.kawasaki.jp", "*.kawasaki.jp"),  # every child is a suffix
        ("*.anything.kawasaki.jp", "anything.kawasaki.jp"),
        ("*.amazonaws.com", "amazonaws.com"),  # holds s3.amazonaws.com and others
        ("*.公司.cn", "xn--55qx5d.cn"),
    ],
)
def test_wildcards_over_public_suffixes_are_refused(text: str, suffix: str) -> None:
    with pytest.raises(PolicyError, match="too broad: it covers the public suffix") as caught:
        normalize_site(text)
    assert suffix in str(caught.value)
    with pytest.raises(PolicyError, match="public suffix"):
        parse_policy({}, KNOWN, site=text)


def test_every_listed_suffix_is_refused_and_a_domain_under_it_is_not() -> None:
    """Over the whole shipped list, so the rule follows the list rather than a few examples."""
    rules = [line.split()[0] for line in PublicSuffixList().tlds]
    assert len(rules) > 5000
    plain = [rule for rule in rules if "." in rule and rule[0] not in "*!"]
    wildcards = {rule[2:] for rule in rules if rule.startswith("*.")}
    for rule in plain:
        assert public_suffix_under(rule) is not None, rule
        with pytest.raises(PolicyError, match="public suffix"):
            normalize_site(f"*.{rule}")
    # One owner's domain under a plain rule is fine (under a *.rule it is a suffix itself).
    owned = [f"*.veil-test.{rule}" for rule in plain if rule not in wildcards]
    assert len(owned) > 4000
    assert [normalize_site(site) for site in owned] == owned
    for rule in wildcards:
        with pytest.raises(PolicyError, match="public suffix"):
            normalize_site(f"*.veil-test.{rule}")
    for rule in (rule for rule in rules if rule.startswith("!")):
        assert public_suffix_under(rule[1:]) is None, rule


@pytest.mark.parametrize("value", [None, 3, b"example.com", ["example.com"]])
def test_normalize_site_rejects_non_strings(value: object) -> None:
    with pytest.raises(PolicyError, match="must be a string"):
        normalize_site(value)  # type: ignore[arg-type]


def test_normalize_host_refuses_patterns() -> None:
    assert normalize_host("API.Example.com.") == "api.example.com"
    with pytest.raises(PolicyError, match="pattern"):
        normalize_host("*.example.com")


@pytest.mark.parametrize(
    ("site", "host", "expected"),
    [
        ("*.example.com", "example.com", True),
        ("*.example.com", "a.example.com", True),
        ("*.example.com", "a.b.example.com", True),
        ("*.example.com", "A.Example.COM.", True),
        ("*.example.com", "notexample.com", False),
        ("*.example.com", "example.com.evil.net", False),
        ("*.example.com", "example.org", False),
        ("photos.example.com", "photos.example.com", True),
        ("photos.example.com", "PHOTOS.example.com", True),
        ("photos.example.com", "cdn.photos.example.com", False),
        ("photos.example.com", "example.com", False),
        ("xn--bcher-kva.example", "bücher.example", True),
        ("photos.example.com", "photos.example.com:443", False),
        ("photos.example.com", "", False),
    ],
)
def test_site_matches(site: str, host: str, expected: bool) -> None:
    assert site_matches(site, host) is expected


def test_best_policy_prefers_exact_then_longest_wildcard() -> None:
    broad, narrow = Policy("*.example.com"), Policy("*.photos.example.com")
    exact = Policy("up.photos.example.com", strength="high")
    candidates = [broad, exact, narrow]
    assert best_policy(candidates, "up.photos.example.com") == exact
    assert best_policy(candidates, "cdn.photos.example.com") == narrow
    assert best_policy(candidates, "photos.example.com") == narrow
    assert best_policy(candidates, "www.example.com") == broad
    assert best_policy(candidates, "example.org") is None
    assert best_policy([], "example.com") is None


def test_disabled_exact_policy_shadows_wildcard() -> None:
    off = Policy("cdn.example.com", enabled=False)
    found = best_policy([Policy("*.example.com"), off], "cdn.example.com")
    assert found == off and not found.enabled


def test_parse_policy_defaults_and_url_site() -> None:
    policy = parse_policy({}, KNOWN, site="*.Example.com")
    assert policy == Policy("*.example.com", True, ("metadata", "pfgsm"), "invisible", "block")


def test_parse_policy_full_body_round_trips() -> None:
    data = {
        "site": "photos.example.com",
        "enabled": False,
        "filters": ["colorfool", "metadata"],
        "strength": "strong",
        "on_failure": "send_original",
        "profile": "instagram",
        "faces": "bystanders",
    }
    policy = parse_policy(data, KNOWN)
    assert policy.filters == ("colorfool", "metadata")  # order kept
    assert policy.to_dict() == data
    assert parse_policy(policy.to_dict(), KNOWN, site="PHOTOS.example.com.") == policy


def test_old_strength_names_still_parse_as_the_new_ones() -> None:
    for old, new in (("low", "invisible"), ("medium", "invisible"), ("high", "strong")):
        assert parse_policy({"strength": old}, KNOWN, site="a.example").strength == new
        assert Policy("a.example", strength=old).strength == new
    with pytest.raises(PolicyError, match="invisible, subtle, strong"):
        parse_policy({"strength": "extreme"}, KNOWN, site="a.example")


@pytest.mark.parametrize(
    ("data", "site", "message"),
    [
        ([], None, "JSON object"),
        ("site", None, "JSON object"),
        ({}, None, "site is required"),
        ({"site": "a.example.com"}, "b.example.com", "differs"),
        ({"site": 5}, None, "site must be a str"),
        ({"site": "*"}, None, "wildcard"),
        ({"enabled": "yes"}, "example.com", "enabled must be a bool"),
        ({"enabled": 1}, "example.com", "enabled must be a bool"),
        ({"filters": "metadata"}, "example.com", "list of filter names"),
        ({"filters": [1, 2]}, "example.com", "list of filter names"),
        ({"filters": []}, "example.com", "at least one"),
        ({"filters": ["metadata", "rm -rf"]}, "example.com", "unknown filter"),
        ({"filters": ["metadata", "metadata"]}, "example.com", "repeat"),
        ({"filters": ["metadata"] * (MAX_FILTERS + 1)}, "example.com", "at most"),
        ({"strength": "max"}, "example.com", "strength must be one of"),
        ({"strength": None}, "example.com", "strength must be a str"),
        ({"on_failure": "retry"}, "example.com", "on_failure must be one of"),
        ({"faces": "mine"}, "example.com", "faces must be one of all, bystanders, none"),
        ({"faces": "All"}, "example.com", "faces must be one of"),
        ({"faces": None}, "example.com", "faces must be a str"),
        ({"faces": ["all"]}, "example.com", "faces must be a str"),
        ({"colour": "red"}, "example.com", "unknown policy field"),
    ],
)
def test_parse_policy_rejects(data: object, site: str | None, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(data, KNOWN, site=site)


def test_policy_itself_refuses_bad_values() -> None:
    with pytest.raises(PolicyError, match="normalized"):
        Policy("Example.com")
    with pytest.raises(PolicyError, match="strength"):
        Policy("example.com", strength="extreme")
    with pytest.raises(PolicyError, match="on_failure"):
        Policy("example.com", on_failure="ignore")
    with pytest.raises(PolicyError, match="faces must be one of all, bystanders, none"):
        Policy("example.com", faces="subject")
    with pytest.raises(PolicyError, match="public suffix"):
        Policy("*.co.uk")
    assert Policy("example.com", filters=["metadata"]).filters == ("metadata",)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "host",
    [
        "mastodon.social",
        "files.mastodon.social",
        "bsky.social",
        "morel.us-east.host.bsky.network",
        "api.imgur.com",
        "oauth.reddit.com",
        "reddit-uploaded-media.s3-accelerate.amazonaws.com",
        "api.telegram.org",
        "i.instagram.com",
        "www.threads.net",
        "www.threads.com",
        "upload.x.com",
        "upload.twitter.com",
        "graph.facebook.com",
        "discord.com",
        "discord-attachments-uploads-prd.storage.googleapis.com",
    ],
)
def test_defaults_cover_upload_hosts(host: str) -> None:
    policy = best_policy(DEFAULT_POLICIES, host)
    assert policy is not None and policy.enabled


@pytest.mark.parametrize(
    "host", ["example.com", "amazonaws.com", "storage.googleapis.com", "telegram.org", "x.co"]
)
def test_defaults_leave_other_hosts_alone(host: str) -> None:
    assert best_policy(DEFAULT_POLICIES, host) is None


def test_defaults_are_the_documented_ones() -> None:
    sites = [policy.site for policy in DEFAULT_POLICIES]
    assert len(sites) == len(set(sites))
    for policy in DEFAULT_POLICIES:
        activity_site = policy in ACTIVITY_POLICIES
        assert policy.filters == (ACTIVITY_FILTERS if activity_site else ("metadata", "pfgsm"))
        assert (policy.strength, policy.on_failure, policy.enabled) == ("invisible", "block", True)
        assert policy.faces == "all"
        assert normalize_site(policy.site) == policy.site


def test_policy_profiles_are_the_filters_platform_profiles() -> None:
    from filters.shared.platforms import PLATFORM_PROFILES
    from proxy.policies import PROFILES

    assert set(PROFILES) == set(PLATFORM_PROFILES)


def test_whose_faces_are_the_filters_choices() -> None:
    from filters.shared.whose import WHOSE_FACES

    for whose in WHOSE_FACES:
        policy = parse_policy({"faces": whose}, KNOWN, site="a.example")
        assert policy.faces == whose and policy.to_dict()["faces"] == whose
    assert parse_policy({}, KNOWN, site="a.example").faces == "all"
    assert Policy("a.example").faces == "all"
