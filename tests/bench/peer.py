#!/usr/bin/python3
"""The python3-websockets peer for scripts/bench: sends every stdin line as a text
message, closes at EOF, prints every message received (one per line); ends when the
connection closes."""
import asyncio
import sys

import websockets


async def main(url):
    async with websockets.connect(url, max_size=None, compression=None) as ws:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1 << 26)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        out = sys.stdout.buffer

        async def receive():
            async for m in ws:
                out.write(m.encode() if isinstance(m, str) else m)
                out.write(b"\n")
            out.flush()

        async def send():
            while True:
                line = await reader.readline()
                if not line:
                    break
                await ws.send(line.rstrip(b"\n").decode())
            await ws.close()

        receiver = asyncio.ensure_future(receive())
        sender = asyncio.ensure_future(send())
        await asyncio.wait({receiver, sender}, return_when=asyncio.FIRST_COMPLETED)
        if not sender.done():  # the server closed first
            sender.cancel()
        await receiver


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
