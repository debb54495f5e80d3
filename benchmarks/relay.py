"""A TCP relay that delays every chunk by a fixed time each way: latency without netem.

    python -m benchmarks.relay --delay 0.025 LISTEN_ADDR:PORT=TARGET_ADDR:PORT [...]

prints `ready` once every listener is bound, then relays until killed. Each chunk read
from one side is written to the other `delay` seconds after it arrived, in order (a
queue per direction), so a round trip costs 2 x delay as on a real network, while
bandwidth stays what loopback gives. It runs as its own process so its CPU never counts
as the deploying tool's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                delay: float) -> None:
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def send() -> None:
        while True:
            due, chunk = await queue.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if not chunk:
                break
            writer.write(chunk)
            await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()

    sender = asyncio.create_task(send())
    try:
        while True:
            chunk = await reader.read(1 << 16)
            queue.put_nowait((time.monotonic() + delay, chunk))
            if not chunk:
                break
        await sender
    except (ConnectionError, OSError):
        sender.cancel()


async def _serve(listen: str, target: str, delay: float) -> asyncio.AbstractServer:
    l_host, l_port = listen.rsplit(":", 1)
    t_host, t_port = target.rsplit(":", 1)

    async def handle(c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        try:
            t_reader, t_writer = await asyncio.open_connection(t_host, int(t_port))
        except OSError:
            c_writer.close()
            return
        await asyncio.gather(_pipe(c_reader, t_writer, delay), _pipe(t_reader, c_writer, delay),
                             return_exceptions=True)
        for w in (c_writer, t_writer):  # both directions done: now close both sockets
            w.close()

    return await asyncio.start_server(handle, l_host, int(l_port), backlog=512)


async def main(pairs: list[str], delay: float) -> None:
    servers = [await _serve(*p.split("=", 1), delay) for p in pairs]
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--delay", type=float, default=0.025, help="seconds, each way")
    p.add_argument("pairs", nargs="+", metavar="LISTEN=TARGET")
    a = p.parse_args()
    try:
        asyncio.run(main(a.pairs, a.delay))
    except KeyboardInterrupt:
        sys.exit(0)
