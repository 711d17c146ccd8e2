#!/usr/bin/python3
"""WebSocket test server on python3-websockets (Debian's, 10.x).

Prints "PORT <n>" on stdout once listening on 127.0.0.1 with an ephemeral port, then
serves until killed. Behaviours (--mode):
  echo                 send every message back; print "OPEN", and "CLOSED <code>" at the end
  flood N              send N messages "msg <i>", then close 1000
  close-on-signal K CODE  echo K messages, then read no more; on SIGUSR1 close with
                       CODE "reason <K>"
  sink                 count messages; print "RECEIVED <n>" on stdout at each close
  greet TEXT           send TEXT (Python escapes allowed, e.g. \x1b) at once, then echo
  echo-delayed SECONDS echo each message after SECONDS
  close-later SECONDS CODE  print the messages received, close with CODE after SECONDS
  redirect STATUS URL  answer the upgrade request with STATUS and Location: URL
  ticker N SECONDS     send "tick <i>" N times, SECONDS apart, then close 1000
  ask N                send "question <i>" N times, print "ANSWER <m>" for each message
                       received, close 1000 "thanks" after N answers
  record [K]           print "GOT <message>" for each message, then "RECORD END"; never answer; after K
                       messages, read no more (the client's data piles up in the kernel)
  typed-echo [lines]   send text and binary messages (empty ones, invalid UTF-8 binary,
                       16 MiB of each) one at a time, expect each back with the same
                       type and bytes; print "TYPED OK" or "TYPED MISMATCH <i> ...",
                       then close 1000. "lines": no text with a line break (a line
                       framing cannot carry one)
"""
import argparse
import asyncio
import http
import signal
import ssl
import sys

import websockets


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["echo", "flood", "close-on-signal", "sink", "greet", "echo-delayed",
                                    "close-later", "ask", "redirect", "ticker", "typed-echo", "record"])
    p.add_argument("--port", type=int, default=0, help="listen on this port instead of an ephemeral one")
    p.add_argument("args", nargs="*")
    p.add_argument("--max-size", type=int, default=64 * 1024 * 1024)
    p.add_argument("--subprotocols", default="", help="comma-separated subprotocols to accept")
    p.add_argument("--show-headers", action="store_true",
                   help='print "HEADER Name: value" for Host, Origin and X-* request headers, and '
                        '"SUBPROTOCOL <name>" for the one chosen')
    p.add_argument("--deflate", action="store_true", help="accept permessage-deflate")
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"), help="serve wss:// with this certificate")
    p.add_argument("--unix", metavar="PATH", help='serve on this Unix domain socket (prints "PORT 0")')
    p.add_argument("--client-ca", help='with --tls: require a client certificate signed by this CA; '
                                       'print "CLIENT <subject CN>" for each connection')
    return p.parse_args()


async def main():
    opts = parse()
    signalled = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, signalled.set)

    async def handler(ws, path=None):
        if opts.client_ca:
            peer = ws.transport.get_extra_info("peercert") or {}
            cn = [v for rdn in peer.get("subject", ()) for k, v in rdn if k == "commonName"]
            print(f"CLIENT {cn[0] if cn else '-'}", flush=True)
        if opts.show_headers:
            for name, value in ws.request_headers.raw_items():
                if name.lower() in ("origin", "authorization", "cookie", "host") or name.lower().startswith("x-"):
                    print(f"HEADER {name}: {value}", flush=True)
            print(f"SUBPROTOCOL {ws.subprotocol}", flush=True)
        if opts.mode == "echo":
            print("OPEN", flush=True)
            try:
                async for m in ws:
                    await ws.send(m)
            finally:
                print(f"CLOSED {ws.close_code}", flush=True)
        elif opts.mode == "flood":
            n = int(opts.args[0])
            for i in range(n):
                await ws.send(f"msg {i}")
            await ws.close(1000, "flood done")
        elif opts.mode == "close-on-signal":
            k, code = int(opts.args[0]), int(opts.args[1])
            count = 0
            async for m in ws:
                count += 1
                await ws.send(m)
                if count >= k:
                    break
            await signalled.wait()  # reading nothing meanwhile
            await ws.close(code, f"reason {k}")
        elif opts.mode == "greet":
            await ws.send(opts.args[0].encode("latin-1").decode("unicode_escape"))
            async for m in ws:
                await ws.send(m)
        elif opts.mode == "echo-delayed":
            async for m in ws:
                await asyncio.sleep(float(opts.args[0]))
                await ws.send(m)
        elif opts.mode == "close-later":
            async def show():
                async for m in ws:
                    print(f"GOT {m}", flush=True)
            reader = asyncio.ensure_future(show())
            await asyncio.sleep(float(opts.args[0]))
            await ws.close(int(opts.args[1]), "later")
            reader.cancel()
        elif opts.mode == "ticker":
            for i in range(int(opts.args[0])):
                await asyncio.sleep(float(opts.args[1]))
                await ws.send(f"tick {i}")
            await ws.close(1000, "ticker done")
        elif opts.mode == "ask":
            n = int(opts.args[0])
            for i in range(n):
                await ws.send(f"question {i}")
            answers = 0
            async for m in ws:
                print(f"ANSWER {m}", flush=True)
                answers += 1
                if answers == n:
                    break
            await ws.close(1000, "thanks")
        elif opts.mode == "typed-echo":
            import random
            rng = random.Random(20)
            big = rng.randbytes(16 * 1024 * 1024)
            messages = ["hello", b"\xff\xfe\x00\n\x80", "", b"", "ünïcödé \u202e", b"\n\n",
                        "line\nbreak", big, big.hex()[:16 * 1024 * 1024], "last"]
            if opts.args[:1] == ["lines"]:
                messages = [m for m in messages if not (isinstance(m, str) and "\n" in m)]
            for i, m in enumerate(messages):
                await ws.send(m)
                back = await asyncio.wait_for(ws.recv(), 60)
                if type(back) is not type(m) or back != m:
                    got = f"{type(back).__name__} of {len(back)}"
                    print(f"TYPED MISMATCH {i}: sent {type(m).__name__} of {len(m)}, got {got}", flush=True)
                    break
            else:
                print("TYPED OK", flush=True)
            await ws.close(1000, "checked")
        elif opts.mode == "record":
            limit = int(opts.args[0]) if opts.args else 0
            count = 0
            async for m in ws:
                print(f"GOT {m}", flush=True)
                count += 1
                if count == limit:
                    print("STOPPED READING", flush=True)
                    await asyncio.Future()
            # Every message received before the close has been printed (the closing
            # handshake completes apart from this loop, which may still be behind).
            print("RECORD END", flush=True)
        elif opts.mode == "sink":
            count = 0
            try:
                async for _ in ws:
                    count += 1
            finally:
                print(f"RECEIVED {count}", flush=True)

    async def process_request(path, headers):
        if opts.mode == "redirect":
            print("REDIRECTED", flush=True)
            return http.HTTPStatus(int(opts.args[0])), [("Location", opts.args[1])], b""
        return None

    ssl_context = None
    if opts.tls:
        ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ssl_context.load_cert_chain(*opts.tls)
        if opts.client_ca:
            ssl_context.verify_mode = ssl.CERT_REQUIRED
            ssl_context.load_verify_locations(opts.client_ca)
    if opts.unix:
        async with websockets.unix_serve(handler, opts.unix, max_size=opts.max_size,
                                         process_request=process_request):
            print("PORT 0", flush=True)
            await asyncio.Future()
        return
    async with websockets.serve(handler, "127.0.0.1", opts.port, max_size=opts.max_size, process_request=process_request,
                                compression="deflate" if opts.deflate else None, ssl=ssl_context,
                                subprotocols=[p for p in opts.subprotocols.split(",") if p] or None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"PORT {port}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
