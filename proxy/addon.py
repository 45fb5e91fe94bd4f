"""The mitmproxy addon: decrypts only protected sites and protects the images they are sent.

Hooks check, then hand off: the body work is pure (proxy.uploads, proxy.adapters,
proxy.streamguard) and the image work (filters.Protector) runs on one worker thread, so other
flows keep moving meanwhile. Uploads too large to buffer stream through a StreamGuard.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from mitmproxy import connection, ctx, http, tls
from mitmproxy.proxy import server_hooks

from filters import ProtectionResult, Protector
from proxy.adapters import Adapter, Plan, default_adapters
from proxy.flows import audit_entry, close_connections, upload_request
from proxy.policies import Policy, best_policy
from proxy.settings import Settings
from proxy.store import Store
from proxy.streamguard import StreamGuard, should_stream
from proxy.uploads import ImageSlot, find_images, rewrite_body

__all__ = ["BLOCK_STATUS", "VeilAddon"]

log = logging.getLogger(__name__)

# What a client sees when its upload was stopped: a refusal it will not retry blindly.
BLOCK_STATUS = 403
# flow.metadata key: the adapter that wants to read this flow's response.
_WATCH = "veil.adapter"


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
        self.adapters: list[Adapter] = default_adapters()
        # One worker: the filters use every core already, and one photo at a time keeps memory flat.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="veil-filters")
        self._tunnels: dict[
            str, str
        ] = {}  # client connection id -> host passed through undecrypted

    async def load_filters(self, names: list[str]) -> None:
        """Load the models on the thread that will run the filters.

        torch keeps a pool of worker threads per calling thread; models loaded on another
        thread left a second pool, and every photo took 1.4x as long (2.25 s against 1.6 s).
        """
        await asyncio.wrap_future(self._executor.submit(self.protector.load, names))

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
        policy = self._flow_policy(flow)
        if policy is None:
            flow.request.stream = True  # unprotected: never buffer it
            return
        length = flow.request.headers.get("content-length", "")
        if should_stream(int(length) if length.strip().isdigit() else None):
            headers = flow.request.headers
            flow.request.stream = StreamGuard(
                headers.get("content-type"),
                headers.get("content-encoding"),
                lambda reason: self._streamed_image(flow, policy, reason),
            )

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None and _WATCH not in flow.metadata:
            flow.response.stream = True  # responses are never rewritten

    def response(self, flow: http.HTTPFlow) -> None:
        watched = flow.metadata.pop(_WATCH, None)
        if watched is not None and flow.response is not None:
            adapter, request = watched
            adapter.response(request, flow.response.status_code, flow.response.content or b"")

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
        content_type = flow.request.headers.get("content-type")
        try:
            plan = self._plan(flow, body or b"")
            body = plan.body if plan.body is not None else body
            slots = find_images(content_type, body) if body else []
        except ValueError as error:
            self._fail(flow, policy, [], f"cannot parse the upload: {error}")
            return
        if plan.refuse is not None:
            self._fail(flow, policy, slots, plan.refuse)
            return
        if plan.reply is not None:
            # A held segment: the site gets it later, inside the whole protected photo.
            headers = {"X-Veil-Held": "segment"}
            if plan.reply_body:
                headers["Content-Type"] = "application/json"
            flow.response = http.Response.make(plan.reply, plan.reply_body, headers)
            return
        self._apply_plan_request(flow, plan, body)
        if not slots:
            return
        await self._protect_flow(flow, policy, plan, content_type, body, slots)

    def _plan(self, flow: http.HTTPFlow, body: bytes) -> Plan:
        request = upload_request(flow, body)
        for adapter in self.adapters:
            plan = adapter.plan(request)
            if plan is not None:
                if plan.watch_response:
                    flow.metadata[_WATCH] = (adapter, request)
                return plan
        return Plan()

    @staticmethod
    def _apply_plan_request(flow: http.HTTPFlow, plan: Plan, body: bytes) -> None:
        for name, value in plan.query.items():
            flow.request.query[name] = value
        if plan.body is not None:
            flow.request.content = body

    async def _protect_flow(
        self,
        flow: http.HTTPFlow,
        policy: Policy,
        plan: Plan,
        content_type: str | None,
        body: bytes,
        slots: list[ImageSlot],
    ) -> None:
        work = self._executor.submit(
            self._protect_body, content_type, body, policy, plan.exact_size
        )
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
        if plan.finish is not None:
            sizes = [(result.width, result.height) for _, result in outcome.protected]
            for name, value in plan.finish(outcome.body, sizes).headers.items():
                flow.request.headers[name] = value
        for slot, result in outcome.protected:
            self._audit(flow, policy, slot, "protected", result=result)

    def _protect_body(
        self, content_type: str | None, body: bytes, policy: Policy, exact_size: bool
    ) -> UploadOutcome:
        """Runs on the worker thread: every image of the body through the policy's filters."""
        outcome = UploadOutcome(body=body)
        # Only ask for the size-preserving encode where a size was announced: it costs quality.
        extra = {"exact_size": True} if exact_size else {}

        def transform(data: bytes, slot: ImageSlot) -> bytes:
            result = self.protector.protect(
                data, policy.filters, policy.strength, profile=policy.profile, **extra
            )
            if exact_size and len(result.data) != len(data):
                raise ValueError(
                    f"the size-preserving encode gave {len(result.data)} bytes, "
                    f"not the announced {len(data)}"
                )
            outcome.protected.append((slot, result))
            return result.data

        outcome.body, _ = rewrite_body(content_type, body, transform)
        return outcome

    def _streamed_image(self, flow: http.HTTPFlow, policy: Policy, reason: str) -> bool:
        """A StreamGuard found an image it cannot protect: the failure rule, mid-stream."""
        send = policy.on_failure == "send_original"
        log.warning(
            "%s %s: %s (%s)",
            flow.request.method,
            flow.request.pretty_host,
            reason,
            "original sent, as the policy allows" if send else "connection closed",
        )
        self._audit(flow, policy, None, "passed" if send else "blocked", reason=reason)
        if not send:
            asyncio.get_running_loop().call_soon(close_connections, flow)
        return send

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
        entry = audit_entry(flow, policy, slot, outcome, result=result, reason=reason)
        self.store.add_audit(entry)

    def done(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
