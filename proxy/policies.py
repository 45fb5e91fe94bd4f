"""Site policies: which hosts Veil protects, with which filters, and what to do on failure.

Pure Python: parsing, site patterns and matching, with nothing of HTTP or SQLite.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

import idna
from publicsuffix2 import PublicSuffixList

from filters import DEFAULT_FILTERS, DEFAULT_PROFILE, DEFAULT_STRENGTH, PROFILES, STRENGTHS

__all__ = [
    "DEFAULT_POLICIES",
    "FAILURE_ACTIONS",
    "MAX_FILTERS",
    "Policy",
    "PolicyError",
    "best_policy",
    "normalize_host",
    "normalize_site",
    "parse_policy",
    "public_suffix_under",
    "site_matches",
]

FAILURE_ACTIONS = ("block", "send_original")
# A chain longer than this is a mistake, not a policy: every filter costs seconds per photo.
MAX_FILTERS = 8
_POLICY_KEYS = frozenset({"site", "enabled", "filters", "strength", "on_failure", "profile"})
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_MAX_HOST_LENGTH = 253


class PolicyError(ValueError):
    """A policy or site pattern that Veil cannot use; the message says why."""


@dataclass(frozen=True)
class Policy:
    """How uploads to one site (exact host or ``*.domain``) are protected."""

    site: str
    enabled: bool = True
    filters: tuple[str, ...] = DEFAULT_FILTERS
    strength: str = DEFAULT_STRENGTH
    on_failure: str = "block"
    profile: str = DEFAULT_PROFILE

    def __post_init__(self) -> None:
        # Frozen, so any Policy is a valid one (parse_policy also checks the filter names).
        object.__setattr__(self, "filters", tuple(self.filters))
        if normalize_site(self.site) != self.site:
            raise PolicyError(f"site {self.site!r} is not normalized; use normalize_site()")
        if self.strength not in STRENGTHS:
            raise PolicyError(f"strength must be one of {', '.join(STRENGTHS)}")
        if self.on_failure not in FAILURE_ACTIONS:
            raise PolicyError(f"on_failure must be one of {', '.join(FAILURE_ACTIONS)}")
        if self.profile not in PROFILES:
            raise PolicyError(f"profile must be one of {', '.join(PROFILES)}")

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form, the same shape that parse_policy() reads."""
        return {
            "site": self.site,
            "enabled": self.enabled,
            "filters": list(self.filters),
            "strength": self.strength,
            "on_failure": self.on_failure,
            "profile": self.profile,
        }


def _ascii_host(text: str) -> str:
    """A lower-case ASCII (punycode) host name, checked label by label."""
    host = text.strip().lower().removesuffix(".")
    if not host:
        raise PolicyError("a host name is required")
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError as error:
            raise PolicyError(f"{text!r} is not a valid international host name: {error}") from None
    if len(host) > _MAX_HOST_LENGTH:
        raise PolicyError(f"host name is longer than {_MAX_HOST_LENGTH} characters")
    for label in host.split("."):
        if not _LABEL.fullmatch(label):
            raise PolicyError(
                f"{text!r} is not a host name: labels are letters, digits and inner hyphens"
            )
    return host


def normalize_host(text: str) -> str:
    """The canonical form of a concrete host: lower case, no trailing dot, punycode, or an IP.

    >>> normalize_host("Photos.Example.COM.")
    'photos.example.com'
    """
    if not isinstance(text, str):
        raise PolicyError(f"a host must be a string, not {type(text).__name__}")
    stripped = text.strip()
    if "://" in stripped or "/" in stripped or "?" in stripped or "#" in stripped:
        raise PolicyError(f"{text!r} must be a bare host name, without scheme or path")
    if "*" in stripped:
        raise PolicyError(f"{text!r} is a pattern, not a host")
    if ":" in stripped:
        try:  # an IPv6 literal, written with or without brackets
            return ipaddress.IPv6Address(stripped.removeprefix("[").removesuffix("]")).compressed
        except ValueError:
            raise PolicyError(f"{text!r} must be a host name without a port") from None
    try:
        return str(ipaddress.IPv4Address(stripped))
    except ValueError:
        return _ascii_host(stripped)


def normalize_site(text: str) -> str:
    """The canonical form of a site pattern: an exact host or ``*.domain``.

    ``*.domain`` covers the domain and its subdomains. A wildcard stands only at the start
    and needs a domain of one owner after it: ``*``, ``*.com``, ``*.co.uk`` and ``*.github.io``
    (public suffixes, from the Public Suffix List) are refused.

    >>> normalize_site("*.Example.com.")
    '*.example.com'
    """
    if not isinstance(text, str):
        raise PolicyError(f"a site must be a string, not {type(text).__name__}")
    stripped = text.strip()
    if not stripped.startswith("*."):
        if "*" in stripped:
            raise PolicyError(f"{text!r}: a wildcard may only start a pattern, as in *.example.com")
        return normalize_host(stripped)
    base = stripped[2:]
    if "*" in base:
        raise PolicyError(f"{text!r}: only one wildcard, at the start, is allowed")
    host = normalize_host(base)
    if ":" in host or _is_ipv4(host):
        raise PolicyError(f"{text!r}: a wildcard needs a domain name, not an IP address")
    if "." not in host:
        raise PolicyError(f"{text!r} is too broad: name a domain such as *.example.com")
    suffix = public_suffix_under(host)
    if suffix is not None:
        raise PolicyError(
            f"{text!r} is too broad: it covers the public suffix {suffix}, whose subdomains "
            "belong to different owners; name one site's domain, such as *.example.co.uk"
        )
    return f"*.{host}"


@functools.cache
def _suffix_rules() -> tuple[dict[str, str], frozenset[str], frozenset[str]]:
    """From the Public Suffix List that publicsuffix2 ships (read offline, once).

    Returns each domain that is or holds a public suffix (mapped to one such rule), the X of
    every ``*.X`` rule, and the exceptions (``!city.kawasaki.jp``, registrable domains).
    Private-section suffixes (github.io, blogspot.com) count as well: their subdomains too
    belong to different owners.
    """
    holders: dict[str, str] = {}
    wildcards, exceptions = set(), set()
    for line in PublicSuffixList().tlds:  # already IDNA-encoded, comments dropped
        rule = line.split()[0]
        if rule.startswith("!"):
            exceptions.add(rule[1:])
            continue
        name = rule.removeprefix("*.")
        if name != rule:
            wildcards.add(name)
        labels = name.split(".")
        for start in range(len(labels)):
            domain = ".".join(labels[start:])
            if start == 0 or domain not in holders:  # prefer naming the domain's own rule
                holders[domain] = rule
    return holders, frozenset(wildcards), frozenset(exceptions)


def public_suffix_under(domain: str) -> str | None:
    """A public suffix (or ``*.X`` rule) that ``domain`` (normalized) is or holds, or None.

    >>> public_suffix_under("co.uk"), public_suffix_under("example.co.uk")
    ('co.uk', None)
    """
    holders, wildcards, exceptions = _suffix_rules()
    parent = domain.partition(".")[2]
    if parent in wildcards and domain not in exceptions:
        return domain  # e.g. foo.kawasaki.jp, by the rule *.kawasaki.jp
    return holders.get(domain)


def _is_ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def site_matches(site: str, host: str) -> bool:
    """True when the host falls under the (normalized) site pattern; a bad host never matches."""
    try:
        host = normalize_host(host)
    except PolicyError:
        return False
    if site.startswith("*."):
        base = site[2:]
        return host == base or host.endswith("." + base)
    return host == site


def _specificity(site: str) -> tuple[bool, int]:
    """Exact hosts first, then the longest wildcard domain."""
    return (not site.startswith("*."), len(site))


def best_policy(policies: Iterable[Policy], host: str) -> Policy | None:
    """The most specific policy for the host, enabled or not (a disabled one shadows wider ones)."""
    matching = [policy for policy in policies if site_matches(policy.site, host)]
    return max(matching, key=lambda policy: _specificity(policy.site), default=None)


def _field(data: dict[str, object], key: str, kind: type, default: object) -> object:
    value = data.get(key, default)
    # bool is an int in Python; JSON true must not pass for a number or the other way round.
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise PolicyError(f"{key} must be a {kind.__name__}, not {type(value).__name__}")
    return value


def _parse_filters(value: object, known_filters: Collection[str]) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(name, str) for name in value):
        raise PolicyError("filters must be a list of filter names")
    if not value:
        raise PolicyError("filters must name at least one filter (disable the policy instead)")
    if len(value) > MAX_FILTERS:
        raise PolicyError(f"filters may name at most {MAX_FILTERS} filters")
    unknown = [name for name in value if name not in known_filters]
    if unknown:
        raise PolicyError(
            f"unknown filter(s) {', '.join(map(repr, unknown))}; "
            f"available: {', '.join(sorted(known_filters))}"
        )
    if len(set(value)) != len(value):
        raise PolicyError("filters must not repeat a filter")
    return tuple(value)


def parse_policy(data: object, known_filters: Collection[str], site: str | None = None) -> Policy:
    """A Policy from decoded JSON; omitted fields take their defaults.

    ``site``, when given (e.g. from a URL), is used if ``data`` has none and must match it
    otherwise. Raises PolicyError with a readable message for anything else.
    """
    if not isinstance(data, dict):
        raise PolicyError("a policy must be a JSON object")
    unknown = sorted(str(key) for key in set(data) - _POLICY_KEYS)
    if unknown:
        raise PolicyError(f"unknown policy field(s) {unknown}; known: {sorted(_POLICY_KEYS)}")
    resolved = normalize_site(site) if site is not None else None
    if "site" in data:
        from_body = normalize_site(str(_field(data, "site", str, "")))
        if resolved is not None and from_body != resolved:
            raise PolicyError(f"site {from_body!r} in the body differs from {resolved!r}")
        resolved = from_body
    if resolved is None:
        raise PolicyError("site is required")
    strength = _field(data, "strength", str, DEFAULT_STRENGTH)
    if strength not in STRENGTHS:
        raise PolicyError(f"strength must be one of {', '.join(STRENGTHS)}, not {strength!r}")
    on_failure = _field(data, "on_failure", str, "block")
    if on_failure not in FAILURE_ACTIONS:
        raise PolicyError(
            f"on_failure must be one of {', '.join(FAILURE_ACTIONS)}, not {on_failure!r}"
        )
    profile = _field(data, "profile", str, DEFAULT_PROFILE)
    if profile not in PROFILES:
        raise PolicyError(f"profile must be one of {', '.join(PROFILES)}, not {profile!r}")
    return Policy(
        site=resolved,
        enabled=bool(_field(data, "enabled", bool, True)),
        filters=_parse_filters(data.get("filters", list(DEFAULT_FILTERS)), known_filters),
        strength=str(strength),
        on_failure=str(on_failure),
        profile=str(profile),
    )


# Sites that recompress like Instagram (1080 px, JPEG ~70); the others like Facebook.
_INSTAGRAM_LIKE = frozenset({"*.instagram.com", "*.threads.net", "*.threads.com"})

# The platforms of REFERENCE.md section 3, where each one's upload requests go.
DEFAULT_POLICIES: tuple[Policy, ...] = tuple(
    Policy(site, profile="instagram" if site in _INSTAGRAM_LIKE else "facebook")
    for site in (
        "mastodon.social",  # users add their own instance
        "*.mastodon.social",
        "bsky.social",
        "*.bsky.network",  # Bluesky PDS hosts
        "*.imgur.com",
        "*.reddit.com",
        "reddit-uploaded-media.s3-accelerate.amazonaws.com",
        "api.telegram.org",
        "*.instagram.com",
        "*.threads.net",
        "*.threads.com",
        "*.x.com",
        "*.twitter.com",
        "*.facebook.com",
        "*.discord.com",
        "discord-attachments-uploads-prd.storage.googleapis.com",
    )
)
