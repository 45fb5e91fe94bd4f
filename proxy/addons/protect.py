"""The upload protector: every image of a buffered upload to a protected site goes through
the site's filters on the filter worker (``proxy.addons.worker``), each within a deadline,
or the failure rule applies. Activity files (GPX, TCX, FIT) and accelerometer sensor uploads
(CSV, JSON) go through ``track-privacy`` and ``motion-anonymise`` first, where the policy
names them.

The hook checks, then hands off: the body work is pure (``proxy.uploads``,
``proxy.adapters``) and the image work runs on the worker, so other flows keep moving.
Measuring a protected image for the audit (labels, visibility) comes after the upload has
left, on a second thread at a lower priority, once no upload has been protected for a
moment: a series of uploads is protected first and measured after.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence

from mitmproxy import ctx, http

from activities import MotionAnonymise, TrackPrivacy, TrackSettings
from filters import Protected, face_findings
from proxy.activityparts import ActivityPart, find_activities, protect_activities, put_back
from proxy.adapters import Adapter, Plan, default_adapters, plan_upload
from proxy.addons.worker import FilterWorker, ImageProtector
from proxy.decoding import decode_capped
from proxy.flows import WATCHED, flow_hosts, upload_request
from proxy.originals import OriginalsVault
from proxy.outcomes import Outcomes
from proxy.policies import ACTIVITY_FILTER_NAMES, Policy
from proxy.policybook import PolicyBook
from proxy.settings import DEFAULT_DEADLINE_S
from proxy.streamguard import MAX_BUFFERED_BODY
from proxy.uploads import FoundImages, ImageSlot, find_images

__all__ = ["ImageProtector", "UploadProtector"]

log = logging.getLogger(__name__)

# More images than any platform takes in one post (Instagram 20, X 4): a body with more is
# a denial of service on the worker, not a post.
MAX_IMAGES_PER_UPLOAD = 100
# A buffered body decoded from its Content-Encoding may be no larger than one held as sent.
MAX_DECODED = MAX_BUFFERED_BODY
# At shutdown, how long the uploads already sent may take to be measured for the audit;
# rows still unmeasured then are written without the figures.
MEASURE_WAIT_S = 10.0


class UploadProtector:
    def __init__(
        self,
        book: PolicyBook,
        outcomes: Outcomes,
        protector: ImageProtector,
        filters: Sequence[str],
        adapters: list[Adapter] | None = None,
        originals: OriginalsVault | None = None,
        activity_settings: Callable[[], TrackSettings] | None = None,
    ) -> None:
        """``originals``: where each protected image's and activity file's original is kept,
        when the user keeps them (``keep_originals``); None keeps nothing.
        ``activity_settings``: the privacy zones and the rest of what ``track-privacy``
        needs, as they are now; None: activity files are left as they come."""
        self.book = book
        self.outcomes = outcomes
        self.filters = list(filters)  # loaded when the proxy starts
        self.adapters = default_adapters() if adapters is None else adapters
        self.worker = FilterWorker(protector)
        self.originals = originals
        self.activity_settings = activity_settings
        self.startup_error: str | None = None  # why the filters could not load
        self._measuring: set[asyncio.Task[None]] = set()  # work after an upload left

    def load(self, loader) -> None:  # type: ignore[no-untyped-def]
        loader.add_option(
            "filter_deadline_s",
            float,
            DEFAULT_DEADLINE_S,
            "Longest a photo's protection may take before the failure rule applies.",
        )

    async def running(self) -> None:
        """Start the worker and load the models on it, before anything else is served.

        Without its filters (a model package missing or broken) Veil protects nothing: it
        stops, and `veil run` says why, rather than run and block every upload.
        """
        try:
            await self.worker.start(self.filters)
        except Exception as error:
            self.startup_error = f"the filters could not load their models: {error}"
            log.debug("loading the filters failed", exc_info=True)  # the trace with -v
            ctx.master.shutdown()

    async def measured(self, timeout: float | None = None) -> None:
        """Wait until the uploads already sent are measured and their audit rows written."""
        if self._measuring:
            await asyncio.wait(set(self._measuring), timeout=timeout)

    async def done(self) -> None:
        await self.measured(MEASURE_WAIT_S)  # the audit rows of uploads already sent
        for task in set(self._measuring):  # the rest are written unmeasured
            task.cancel()
        await asyncio.gather(*self._measuring, return_exceptions=True)
        self.outcomes.stop()  # rows still waiting on a site's answer are written without it
        self.worker.stop()

    def response(self, flow: http.HTTPFlow) -> None:
        self.outcomes.answered(flow)  # the audit says the site got it only now
        watched = flow.metadata.pop(WATCHED, None)
        if watched is not None and flow.response is not None:
            watched(flow.response.status_code, flow.response.content or b"")

    def error(self, flow: http.HTTPFlow) -> None:
        self.outcomes.answered(flow)  # no answer: refused, timed out, or the client gave up

    async def request(self, flow: http.HTTPFlow) -> None:
        if flow.response or flow.error or not flow.live or flow.request.stream:
            return
        policy = self.book.policy_for(*flow_hosts(flow))
        if policy is None:
            return
        try:
            await self._request(flow, policy)
        except Exception as error:
            # mitmproxy logs a hook's exception and sends the flow on: a bug here must not
            # let an original through, so it falls under the failure rule like any other.
            log.exception("protecting %s %s failed", flow.request.method, flow.request.url)
            if flow.response is None:
                self.outcomes.fail(flow, policy, [], f"internal error: {error}")

    async def _request(self, flow: http.HTTPFlow, policy: Policy) -> None:
        raw = flow.request.raw_content or b""
        try:
            body = decode_capped(raw, flow.request.headers.get("content-encoding"), MAX_DECODED)
        except ValueError as error:
            # Undecodable, or a bomb: we cannot see inside, so we cannot vouch for it.
            self.outcomes.fail(flow, policy, [], f"cannot decode the request body: {error}")
            return
        request = upload_request(flow, body)
        try:
            plan = plan_upload(self.adapters, request)
            if plan.body is not None:  # segments assembled into a new body
                found = find_images(request.content_type, plan.body)
            else:  # the one parse of the body, shared with the adapters
                found = find_images(request.content_type, body, request.multipart)
        except ValueError as error:  # a malformed multipart body, JSON, base64...
            self.outcomes.fail(flow, policy, [], f"cannot parse the upload: {error}")
            return
        if plan.watcher is not None:
            flow.metadata[WATCHED] = plan.watcher
        if plan.refuse is not None:
            self.outcomes.fail(flow, policy, found.slots, plan.refuse)
            return
        if plan.reply is not None:
            # A held segment: the site gets it later, inside the whole protected photo.
            headers = {"X-Veil-Held": "segment"}
            if plan.reply_body:
                headers["Content-Type"] = "application/json"
            flow.response = http.Response.make(plan.reply, plan.reply_body, headers)
            return
        # Image data no shape found cannot be protected, so it must not leave.
        trace = found.trace()
        if trace is not None:
            self.outcomes.fail(flow, policy, found.slots, f"cannot protect {trace.describe()}")
            return
        for name, value in plan.query.items():
            flow.request.query[name] = value
        if plan.body is not None:
            flow.request.content = plan.body
        changed: list[bytes] = []  # the originals of the activity files protected
        if self.activity_settings is not None and ACTIVITY_FILTER_NAMES & set(policy.filters):
            sensors = MotionAnonymise.name in policy.filters  # CSV and JSON uploads too
            # Off the loop: a JSON body that may be sensor data is parsed whole.
            activities = await asyncio.to_thread(find_activities, found, sensors)
            if activities:
                done = await self._protect_activities(flow, policy, found, activities)
                if done is None:
                    return
                protected_body, changed = done
                if protected_body is not found.body:
                    found = find_images(request.content_type, protected_body)
        if found.slots:
            await self._protect(flow, policy, plan, found)
        # Kept only once the upload leaves: a photo beside them may still have blocked it.
        if changed and self.originals is not None and flow.response is None:
            self._after_upload(self._keep_originals(policy, changed))

    async def _protect_activities(
        self,
        flow: http.HTTPFlow,
        policy: Policy,
        found: FoundImages,
        activities: list[ActivityPart],
    ) -> tuple[bytes, list[bytes]] | None:
        """Run the policy's activity filters on each activity file and put them back in the
        body; returns the body and the originals of the files changed, or None when one could
        not be protected (the failure rule has been applied)."""
        assert self.activity_settings is not None
        track = self.activity_settings() if TrackPrivacy.name in policy.filters else None
        motion = MotionAnonymise.name in policy.filters
        try:  # off the loop: motion-anonymise runs a network
            done = await asyncio.to_thread(protect_activities, activities, track, motion)
        except ValueError as error:  # a broken or unknown file: it must not leave as it is
            slots = [activity.slot for activity in activities]
            self.outcomes.fail(flow, policy, slots, str(error))
            return None
        changed = {p.part.slot.index: p.data for p in done if p.record is not None}
        if not changed:  # e.g. a GPX file under motion-anonymise alone
            return found.body, []
        body = put_back(found, changed)
        flow.request.content = body  # re-applies Content-Encoding, fixes Content-Length
        for protected in done:
            if protected.record is not None:
                self.outcomes.protected(flow, policy, protected.part.slot, protected.record)
        return body, [p.part.data for p in done if p.record is not None]

    async def _protect(
        self, flow: http.HTTPFlow, policy: Policy, plan: Plan, found: FoundImages
    ) -> None:
        if not self.worker.running:  # a hook must never raise: mitmproxy would send the flow on
            self.outcomes.fail(flow, policy, found.slots, "Veil is not running its filters yet")
            return
        images = found.images()
        if len(images) > MAX_IMAGES_PER_UPLOAD:
            reason = f"{len(images)} images in one upload; Veil protects {MAX_IMAGES_PER_UPLOAD}"
            self.outcomes.fail(flow, policy, found.slots, reason)
            return
        deadline = ctx.options.filter_deadline_s
        try:
            protected = await self.worker.protect(
                flow.id, policy, images, plan.exact_size, deadline
            )
            results = iter(protected)
            body = found.rewrite(lambda _data, _slot: next(results).data)
        except Exception as error:  # any failure of protection falls under the policy's rule
            reason = str(error) or type(error).__name__
            self.outcomes.fail(flow, policy, found.slots, reason)
            return
        flow.request.content = body  # re-applies Content-Encoding, fixes Content-Length
        if plan.finish is not None:
            sizes = [(p.original.width, p.original.height) for p in protected]
            for name, value in plan.finish(body, sizes).headers.items():
                flow.request.headers[name] = value
        # The upload leaves now; keeping the originals and measuring it for the audit
        # (labels, visibility) come after.
        if self.originals is not None:
            self._after_upload(self._keep_originals(policy, [p.source for p in protected]))
        self._after_upload(
            self._measure(flow, policy, list(zip(found.slots, protected, strict=True)))
        )

    def _after_upload(self, work: Coroutine[None, None, None]) -> None:
        task = asyncio.create_task(work)
        self._measuring.add(task)
        task.add_done_callback(self._measuring.discard)

    async def _keep_originals(self, policy: Policy, sources: list[bytes]) -> None:
        assert self.originals is not None
        for source in sources:
            try:
                await asyncio.to_thread(self.originals.keep, source)
            except (OSError, ValueError):  # the upload left protected: only the copy is lost
                log.exception("keeping an original of an upload to %s failed", policy.site)

    async def _measure(
        self, flow: http.HTTPFlow, policy: Policy, protected: list[tuple[ImageSlot, Protected]]
    ) -> None:
        """The audit rows of a protected upload, with what measuring each image found."""
        pending = list(protected)
        try:
            while pending:
                slot, image = pending[0]
                try:
                    record = await self.worker.measure(image)
                except Exception:  # the photo left protected: its row says so, unmeasured
                    log.exception("measuring a protected upload to %s failed", policy.site)
                    record = None
                pending.pop(0)
                self.outcomes.protected(flow, policy, slot, record, face_findings(image))
        finally:  # cancelled at shutdown: no row is lost, the rest go unmeasured
            for slot, image in pending:
                self.outcomes.protected(flow, policy, slot, None, face_findings(image))
