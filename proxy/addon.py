"""The mitmproxy addon: decrypts only protected sites and protects the images they are sent.

Hooks check, then hand off: the body work is pure (proxy.uploads) and the image work
(filters.Protector) runs on one worker thread, so other flows keep moving meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from mitmproxy import connection, ctx, http, tls
from mitmproxy.proxy import server_hooks

from filters import ProtectionResult, Protector
from proxy.policies import Policy, best_policy
from proxy.settings import Settings
from proxy.store import AuditEntry, Store
from proxy.uploads import ImageSlot, find_images, rewrite_body

__all__ = ["BLOCK_STATUS", "VeilAddon"]

log = logging.getLogger(__name__)

# What a client sees when its upload was stopped: a refusal it will not retry blindly.
BLOCK_STATUS = 403


@dataclass
class UploadOutcome:
    """What the worker thread made of one request body."""

    body: bytes
    protected: list[tuple[ImageSlot, ProtectionResult]] = field(default_factory=list)


class VeilAddon:
    def __init__(self, store: Store, protector: Protector, settings: Settings) -> None:
        self.store = store
        self.protector = protector
        self.settings = settings
        self._policies: list[Policy] = store.list_policies()
        # One worker: the filters use every core already, and one photo at a time keeps memory flat.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="veil-filters")
        self._tunnels: dict[
            str, str
        ] = {}  # client connection id -> host passed through undecrypted

    # --- policies -------------------------------------------------------------------------

    def policy_for(self, *hosts: str | None) -> Policy | None:
        """The enabled policy that covers any of the hosts, or None when they are unprotected."""
        for host in hosts:
            if host:
                policy = best_policy(self._policies, host)
                if policy is not None and policy.enabled:
                    return policy
        return None

    def reload_policies(self) -> None:
        """Called by the control API after each change: the next connection and upload see it."""
        self._policies = self.store.list_policies()
        self._close_tunnels_now_protected()

    def _close_tunnels_now_protected(self) -> None:
        # A tunnel opened while its host was unprotected would carry the next upload unseen.
        stale = {cid for cid, host in self._tunnels.items() if self.policy_for(host)}
        if not stale:
            return
        proxyserver = ctx.master.addons.get("proxyserver")
        for handler in list(proxyserver.connections.values()):
            if handler.client.id in stale:
                log.info(
                    "closing the tunnel to %s: it is protected now",
                    self._tunnels[handler.client.id],
                )
                transport = handler.transports.get(handler.client)
                if transport is not None and transport.writer is not None:
                    transport.writer.close()

    # --- connections ------------------------------------------------------------------------

    def tls_clienthello(self, data: tls.ClientHelloData) -> None:
        server_address = data.context.server.address
        host = data.client_hello.sni or (server_address[0] if server_address else None)
        if self.policy_for(host) is None:
            # Not protected: pass the TLS through untouched, never decrypted.
            data.ignore_connection = True
            self._tunnels[data.context.client.id] = host or ""

    def client_disconnected(self, client: connection.Client) -> None:
        self._tunnels.pop(client.id, None)

    def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        if data.server.address is None:
            return
        override = self.settings.connect_override(str(data.server.address[0]))
        if override is not None:
            data.server.address = override

    # --- flows --------------------------------------------------------------------------------

    def _flow_policy(self, flow: http.HTTPFlow) -> Policy | None:
        return self.policy_for(flow.request.pretty_host, flow.request.host)

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if self._flow_policy(flow) is None:
            flow.request.stream = True  # unprotected: never buffer it

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None:
            flow.response.stream = True  # responses are never rewritten

    async def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error or not flow.live or flow.request.stream:
            return
        policy = self._flow_policy(flow)
        if policy is None:
            return
        try:
            body = flow.request.get_content()
        except ValueError as error:
            # Undecodable Content-Encoding: we cannot see inside, so we cannot vouch for it.
            self._fail(flow, policy, [], f"cannot decode the request body: {error}")
            return
        if not body:
            return
        content_type = flow.request.headers.get("content-type")
        try:
            slots = find_images(content_type, body)
        except ValueError as error:
            self._fail(flow, policy, [], f"cannot parse the upload: {error}")
            return
        if not slots:
            return
        work = self._executor.submit(self._protect_body, content_type, body, policy)
        try:
            outcome = await asyncio.wait_for(
                asyncio.wrap_future(work), timeout=self.settings.filter_deadline_s
            )
        except TimeoutError:
            reason = f"protection exceeded its deadline of {self.settings.filter_deadline_s:g} s"
            self._fail(flow, policy, slots, reason)
            return
        except Exception as error:  # any failure of protection falls under the policy's rule
            self._fail(flow, policy, slots, str(error) or type(error).__name__)
            return
        flow.request.content = outcome.body  # re-applies Content-Encoding, fixes Content-Length
        for slot, result in outcome.protected:
            self._audit(flow, policy, slot, "protected", result=result)

    def _protect_body(self, content_type: str | None, body: bytes, policy: Policy) -> UploadOutcome:
        """Runs on the worker thread: every image of the body through the policy's filters."""
        outcome = UploadOutcome(body=body)

        def transform(data: bytes, slot: ImageSlot) -> bytes:
            result = self.protector.protect(
                data, policy.filters, policy.strength, profile=policy.profile
            )
            outcome.protected.append((slot, result))
            return result.data

        outcome.body, _ = rewrite_body(content_type, body, transform)
        return outcome

    def _fail(
        self, flow: http.HTTPFlow, policy: Policy, slots: list[ImageSlot], reason: str
    ) -> None:
        """Apply the policy's failure rule: block (the original never leaves) or send it as is."""
        blocked = policy.on_failure == "block"
        log.warning(
            "protection failed for %s %s: %s (%s)",
            flow.request.method,
            flow.request.pretty_host,
            reason,
            "blocked" if blocked else "original sent, as the policy allows",
        )
        if blocked:
            text = (
                f"Veil blocked this upload to {flow.request.pretty_host}: {reason}. "
                "The original photo was not sent.\n"
            )
            flow.response = http.Response.make(
                BLOCK_STATUS,
                text.encode(),
                {
                    "Content-Type": "text/plain; charset=utf-8",
                    "X-Veil-Blocked": reason.encode("ascii", "replace").decode()[:200],
                },
            )
        for slot in slots or [None]:
            self._audit(flow, policy, slot, "blocked" if blocked else "passed", reason=reason)

    def _audit(
        self,
        flow: http.HTTPFlow,
        policy: Policy,
        slot: ImageSlot | None,
        outcome: str,
        *,
        result: ProtectionResult | None = None,
        reason: str | None = None,
    ) -> None:
        entry = AuditEntry(
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
        )
        if result is not None:
            entry.filters = list(result.filters_applied)
            for name in (
                "sha256_before",
                "sha256_after",
                "size_before",
                "size_after",
                "width",
                "height",
                "metadata_removed",
                "label_before",
                "confidence_before",
                "label_after",
                "confidence_after",
                "ssim",
                "psnr",
                "elapsed_ms",
                "thumb_before",
                "thumb_after",
            ):
                setattr(entry, name, getattr(result, name))
        self.store.add_audit(entry)

    def done(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
