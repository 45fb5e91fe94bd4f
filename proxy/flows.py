"""Small bridges between mitmproxy flows and Veil's pure pieces: the adapters' view of a
request, the audit entry of an upload, and cutting a flow's connections mid-stream."""

from __future__ import annotations

from mitmproxy import ctx, http

from filters import FaceFindings, ProtectionRecord
from proxy.adapters import UploadRequest
from proxy.audit import AuditEntry
from proxy.policies import Policy
from proxy.uploads import ImageSlot

__all__ = [
    "ASKED_HOST",
    "WATCHED",
    "audit_entry",
    "close_connections",
    "flow_hosts",
    "upload_request",
]

# flow.metadata key: the callback of the adapter that wants to read this flow's response.
WATCHED = "veil.watched"
# flow.metadata key: the host a request named before ``connect_overrides`` pointed it at
# another address.
ASKED_HOST = "veil.asked_host"


def flow_hosts(flow: http.HTTPFlow) -> tuple[str | None, ...]:
    """Every name the client gave for where a request goes: the Host header, the CONNECT
    target (or absolute URL, before a connect override pointed it elsewhere) and the TLS
    SNI. A request is protected when any of them is."""
    asked = flow.metadata.get(ASKED_HOST, flow.request.host)
    return (flow.request.pretty_host, asked, flow.client_conn.sni)


def upload_request(flow: http.HTTPFlow, body: bytes) -> UploadRequest:
    """The request as the adapters see it, with its decoded body."""
    return UploadRequest(
        method=flow.request.method.upper(),
        host=flow.request.pretty_host,
        path=flow.request.path.split("?", 1)[0],
        query=tuple(flow.request.query.items(multi=True)),
        headers={name.lower(): value for name, value in flow.request.headers.items()},
        body=body,
    )


def audit_entry(
    flow: http.HTTPFlow,
    policy: Policy,
    slot: ImageSlot | None,
    outcome: str,
    *,
    record: ProtectionRecord | None = None,
    reason: str | None = None,
    faces: FaceFindings | None = None,
) -> AuditEntry:
    """One audit log line for an image of ``flow`` (or the whole upload when ``slot`` is None);
    ``faces``: what the face filters found in it."""
    return AuditEntry(
        site=flow.request.pretty_host,
        method=flow.request.method,
        path=flow.request.path.split("?", 1)[0],
        policy_site=policy.site,
        filters=list(policy.filters),
        strength=policy.strength,
        outcome=outcome,
        reason=reason,
        filename=slot.filename if slot else None,
        field_name=slot.field_name if slot else None,
        format=slot.format if slot else None,
        faces=policy.faces,
        faces_found=faces.found if faces else [],
        faces_changed=faces.changed if faces else None,
        record=record,
    )


def close_connections(flow: http.HTTPFlow) -> None:
    """Cut both sides of a streaming flow: the site has its headers but must get no more."""
    if flow.killable:
        flow.kill()
    proxyserver = ctx.master.addons.get("proxyserver")
    if proxyserver is None:  # no proxy server running the connections (unit tests)
        return
    for handler in list(proxyserver.connections.values()):
        if handler.client.id == flow.client_conn.id:
            for transport in handler.transports.values():
                if transport.writer is not None:
                    transport.writer.close()
