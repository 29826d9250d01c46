"""asyncio consumption of a live subscription, for the web server (FastAPI/Starlette).

The broadcasters run on camera I/O threads and never wait for a viewer; ``chunks`` bridges one
subscription into the event loop without a thread per viewer: the subscription's waker schedules
``Event.set`` with ``loop.call_soon_threadsafe`` when chunks arrive in its empty queue, and the
generator drains the queue without blocking. Closing the generator closes the subscription, so
wrap it in ``contextlib.aclosing`` (or close the subscription in the handler's ``finally``)::

    sub = live.fmp4.subscribe()
    async with contextlib.aclosing(chunks(sub)) as stream:
        async for chunk in stream:
            if chunk.kind is ChunkKind.INIT:
                await ws.send_text(chunk.mime)   # addSourceBuffer, or changeType after a change
            await ws.send_bytes(chunk.data)

For MJPEG: ``StreamingResponse((c.data async for c in chunks(sub)), media_type=CONTENT_TYPE)``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator

from hearthcam.live.subscription import Chunk, Subscription


async def chunks(subscription: Subscription) -> AsyncGenerator[Chunk, None]:
    """Yields the subscription's chunks as they come; ends when it is closed (and emptied)."""
    loop = asyncio.get_running_loop()
    ready = asyncio.Event()

    def wake() -> None:  # runs on a camera thread
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            loop.call_soon_threadsafe(ready.set)

    subscription.set_waker(wake)
    try:
        while True:
            ready.clear()
            # Read before draining: chunks offered before the close are drained with this.
            closed = subscription.closed
            batch = subscription.drain()
            for chunk in batch:
                yield chunk
            if batch:
                continue
            if closed:
                return
            await ready.wait()
    finally:
        subscription.set_waker(None)
        subscription.close()
