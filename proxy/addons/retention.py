"""Kept originals go at their retention limit: checked when Veil starts and every hour after,
whether or not originals are still being kept (turning keeping off shortens no limit)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from proxy.originals import OriginalsVault

__all__ = ["PURGE_EVERY_S", "OriginalsRetention"]

log = logging.getLogger(__name__)

PURGE_EVERY_S = 3600.0


class OriginalsRetention:
    def __init__(self, vault: OriginalsVault, every_s: float = PURGE_EVERY_S) -> None:
        self.vault = vault
        self.every_s = every_s
        self._task: asyncio.Task[None] | None = None

    async def running(self) -> None:
        self._task = asyncio.create_task(self._purge_forever())

    async def done(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _purge_forever(self) -> None:
        while True:
            try:
                removed = await asyncio.to_thread(self.vault.purge)
            except OSError:
                log.exception("deleting the originals past their retention limit failed")
            else:
                if removed:
                    log.info("deleted %d originals past their retention limit", removed)
            await asyncio.sleep(self.every_s)
