"""Site patterns and hosts: an exact host or ``*.domain``, normalised, matched, and never a
public suffix. Pure Python, read offline (the Public Suffix List that publicsuffix2 ships)."""

from __future__ import annotations

import functools
import ipaddress
import re

import idna
from publicsuffix2 import PublicSuffixList

__all__ = [
    "SITE_PATTERN",
    "PolicyError",
    "normalize_host",
    "normalize_site",
    "public_suffix_under",
    "site_matches",
]

_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_SCHEMA_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# The site syntax for the API's JSON Schema, no wider than what normalize_site accepts: ASCII
# labels (international names in punycode, as browsers send them), and a wildcard over two
# labels or more that is not an IPv4 address. IPv6 literals the server accepts as well.
SITE_PATTERN = (
    r"^(?=.{1,253}$)(?!\*\.(?:\d+\.){3}\d+$)(?:\*\.(?=.*\.))?"
    + _SCHEMA_LABEL
    + r"(?:\."
    + _SCHEMA_LABEL
    + r")*$"
)
_MAX_HOST_LENGTH = 253


class PolicyError(ValueError):
    """A policy or site pattern that Veil cannot use; the message says why."""


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
        if label.startswith("xn--"):
            # Punycode must decode to a valid international label ("xn--zz" does not):
            # browsers would never ask for such a host, so a policy for it protects nothing.
            try:
                idna.decode(label)
            except idna.IDNAError as error:
                raise PolicyError(
                    f"{text!r} has an invalid punycode label {label!r}: {error}"
                ) from None
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
