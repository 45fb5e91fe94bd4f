"""Name constraints that hold Veil's CA to the protected sites, and whether a CA covers them.

A site is what a policy names (see ``proxy.sites``, already normalized): an exact host
(``photos.example.com``), ``*.example.com`` (the domain and every subdomain), or an IP
address. A CA whose critical NameConstraints permit only those names cannot be used to
forge any other site, even if its key leaks; Veil decrypts only protected sites, so the
constraint costs nothing.

A DNS constraint always permits the name and its subdomains (RFC 5280), so an exact host's
subdomains are permitted too. Excluding them would take ``.photos.example.com``, read as
"subdomains only" by OpenSSL, NSS and Chromium but refused as malformed by strict verifiers
(pyca/cryptography's), which then reject every certificate: not worth it for names that
belong to the same owner.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from cryptography import x509

__all__ = ["NOTHING", "covers", "name_constraints", "permits"]

# What a CA for no site permits: a reserved name (RFC 2606) that no real site can have.
NOTHING = "veil-no-site.invalid"
# mitmproxy names the address the client reached the proxy on in every leaf for a connection
# without SNI, as a connection to an IP site is: the CA must permit the loopback addresses then.
_PROXY_ADDRESSES = ("127.0.0.1", "::1")
_EVERY_IP = {4: ipaddress.ip_network("0.0.0.0/0"), 6: ipaddress.ip_network("::/0")}

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _ip(site: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(site.removeprefix("[").removesuffix("]"))
    except ValueError:
        return None


def _under(name: str, domain: str) -> bool:
    """``name`` is ``domain`` or one of its subdomains (``domain`` without a leading dot)."""
    return name == domain or name.endswith("." + domain)


def _dns_matches(constraint: str, name: str) -> bool:
    """RFC 5280 DNS subtree match; a leading dot matches subdomains only (as verifiers do)."""
    if constraint.startswith("."):
        return name.endswith(constraint)
    return _under(name, constraint)


def _split(sites: Sequence[str]) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) of the sites, lower case, without repeats or wildcards."""
    names, ips = [], []
    for site in dict.fromkeys(site.strip().lower().rstrip(".") for site in sites):
        address = _ip(site)
        if address is not None:
            ips.append(str(address))
        elif site:
            names.append(site.removeprefix("*."))
    return names, ips


def name_constraints(sites: Sequence[str]) -> x509.NameConstraints:
    """The NameConstraints that permit the names the sites cover, and no other.

    ``*.example.com`` and ``example.com`` both permit example.com and its subdomains; an IP
    address permits that one address, and every other address stays out. No site at all
    permits only a reserved name.

    >>> [str(n.value) for n in name_constraints(["*.example.com"]).permitted_subtrees]
    ['example.com']
    """
    names, ips = _split(sites)
    # A name under another permitted one adds nothing.
    names = [n for n in dict.fromkeys(names) if not any(o != n and _under(n, o) for o in names)]
    permitted: list[x509.GeneralName] = [x509.DNSName(name) for name in names or [NOTHING]]
    networks = [ipaddress.ip_network(ip) for ip in ips]
    if networks:
        networks += [ipaddress.ip_network(ip) for ip in _PROXY_ADDRESSES]
    permitted += [x509.IPAddress(net) for net in dict.fromkeys(networks)]
    # A name form with no permitted subtree is unconstrained: exclude each IP family unused.
    used = {net.version for net in networks}
    excluded = [x509.IPAddress(_EVERY_IP[v]) for v in (4, 6) if v not in used]
    return x509.NameConstraints(permitted_subtrees=permitted, excluded_subtrees=excluded or None)


def permits(constraints: x509.NameConstraints, site: str) -> bool:
    """Whether every name ``site`` covers passes ``constraints`` (DNS and IP forms)."""
    permitted = list(constraints.permitted_subtrees or [])
    excluded = list(constraints.excluded_subtrees or [])
    address = _ip(site)
    if address is not None:
        allowed = [n.value for n in permitted if isinstance(n, x509.IPAddress)]
        denied = [n.value for n in excluded if isinstance(n, x509.IPAddress)]
        inside = any(address in net for net in allowed if isinstance(net, IpNetwork))
        return (inside or not allowed) and not any(
            address in net for net in denied if isinstance(net, IpNetwork)
        )
    allowed_dns = [str(n.value).lower() for n in permitted if isinstance(n, x509.DNSName)]
    denied_dns = [str(n.value).lower() for n in excluded if isinstance(n, x509.DNSName)]
    site = site.strip().lower().rstrip(".")
    host = site.removeprefix("*.")
    if allowed_dns and not any(_dns_matches(c, host) for c in allowed_dns):
        return False
    if site.startswith("*."):
        # Every subdomain must pass too: no exclusion may reach into the domain's tree.
        return not any(_under(c.lstrip("."), host) or _dns_matches(c, host) for c in denied_dns)
    return not any(_dns_matches(c, host) for c in denied_dns)


def covers(cert: x509.Certificate, sites: Sequence[str]) -> bool:
    """Whether ``cert`` is name-constrained and its constraints permit every site.

    A CA without NameConstraints covers nothing: it could forge any site, and is replaced.
    """
    try:
        constraints = cert.extensions.get_extension_for_class(x509.NameConstraints).value
    except x509.ExtensionNotFound:
        return False
    return all(permits(constraints, site) for site in sites)
