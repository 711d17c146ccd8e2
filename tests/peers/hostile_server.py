#!/usr/bin/python3
"""Small misbehaving servers for wsbridge's tests. Prints "PORT <n>" once listening on
127.0.0.1 with an ephemeral port.

Modes:
  http STATUS [LOCATION]  answer every request with this HTTP status (Content-Length: 0)
  http-headers STATUS HEADER...  the same, with these header lines ("Name: value")
                          and close, e.g. 403, or 302 with a Location header
  http-body STATUS TYPE BODY  answer with this status, Content-Type and body, and close
  tls-alert               answer the request with a TLS alert record, as a TLS server
                          that gets plain HTTP may, and close
  http-hang STATUS [LOC]  answer with this status and no Content-Length, so the body runs
                          until the socket closes, and never close it (the trap that made
                          python -m websockets ignore Ctrl+C)
  http-stall STATUS       answer with this status and Content-Length: 1000, send 10 bytes
                          of the body, and hold the socket open (a body that never ends)
  garbage                 answer the upgrade request with bytes that are not HTTP
  silent                  accept and never answer
  flood-no-read           finish the handshake, then send text messages (up to 1 GiB,
                          blocking when the client stops reading) and never read
  backlog-full            a listener whose accept queue is full, so a SYN is never answered
  no-close-reply          finish the WebSocket handshake, then never read or answer Close
  subprotocol NAME        finish the handshake choosing subprotocol NAME, whatever was offered
  extension VALUE         finish the handshake answering Sec-WebSocket-Extensions: VALUE
  frames HEX              finish the handshake, send these bytes (hex), then read until the
                          client closes TCP (a Close frame with a bad code, say); print
                          "CLOSE <code>" for the client's Close frame ("CLOSE none" without)
  ping-flood COUNT        finish the handshake, send COUNT pings of 125 bytes and never read;
                          print "STALLED <bytes sent>" once the client has taken nothing for
                          2 s (it stopped reading), or "SENT ALL" if it took everything
  slow-sink BYTES_PER_S   finish the handshake and read at most this fast, counting text
                          frames; answer the client's Close and print "RECEIVED <n>"
"""
import struct
import time
import base64
import hashlib
import socket
import sys
import threading

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
REASONS = {101: "Switching Protocols", 301: "Moved Permanently", 302: "Found", 303: "See Other",
           307: "Temporary Redirect", 308: "Permanent Redirect", 400: "Bad Request",
           401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests",
           500: "Internal Server Error", 503: "Service Unavailable"}


def read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return None
        data += chunk
    return data


def http_answer(status, location):
    head = f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}\r\nContent-Length: 0\r\n"
    if location:
        head += f"Location: {location}\r\n"
    return (head + "\r\n").encode("utf-8")


def accept_key(request):
    for line in request.split(b"\r\n"):
        if line.lower().startswith(b"sec-websocket-key:"):
            key = line.split(b":", 1)[1].strip()
            return base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
    return ""


def event(name):
    """Tells the test how far a client got (one word a line on stdout)."""
    print(name, flush=True)


def serve(conn, mode, args, keep):
    req = read_request(conn)
    if req is None:
        conn.close()
        return
    if mode == "http-stall":
        conn.sendall(f"HTTP/1.1 {args[0]} {REASONS.get(int(args[0]), 'Status')}\r\n"
                     "Content-Length: 1000\r\n\r\n0123456789".encode())
        event("ANSWERED")
        keep.append(conn)
        return
    if mode == "http-body":  # STATUS TYPE BODY
        body = args[2].encode()
        conn.sendall(f"HTTP/1.1 {args[0]} {REASONS.get(int(args[0]), 'Status')}\r\nContent-Type: {args[1]}\r\n"
                     f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        event("ANSWERED")
        conn.close()
        return
    if mode == "tls-alert":  # RFC 8446 §6: a fatal (2) protocol_version (70) alert, TLS 1.2 record
        conn.sendall(bytes([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46]))
        event("ANSWERED")
        conn.close()
        return
    if mode == "http-headers":  # STATUS 'Name: value'...
        conn.sendall((f"HTTP/1.1 {args[0]} {REASONS.get(int(args[0]), 'Status')}\r\nContent-Length: 0\r\n" +
                      "".join(h + "\r\n" for h in args[1:]) + "\r\n").encode())
        event("ANSWERED")
        conn.close()
        return
    if mode in ("http", "http-hang"):
        answer = http_answer(int(args[0]), args[1] if len(args) > 1 else None)
        if mode == "http-hang":
            answer = answer.replace(b"Content-Length: 0\r\n", b"")
        conn.sendall(answer)
        event("ANSWERED")
        if mode == "http":
            conn.close()
        else:
            keep.append(conn)
    elif mode == "garbage":
        conn.sendall(b"\x00\x01not http at all\r\n\r\n")
        conn.close()
    elif mode in ("no-close-reply", "flood-no-read", "subprotocol", "extension", "frames", "ping-flood", "slow-sink"):
        extra = f"Sec-WebSocket-Protocol: {args[0]}\r\n" if mode == "subprotocol" else ""
        if mode == "extension":
            extra = f"Sec-WebSocket-Extensions: {args[0]}\r\n"
        conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Accept: {accept_key(req)}\r\n{extra}\r\n").encode())
        if mode == "frames":
            event("OPEN")
            conn.sendall(bytes.fromhex(args[0]))
            report_client_close(conn)
            conn.close()
            return
        if mode == "ping-flood":
            ping_flood(conn, int(args[0]))
            return
        if mode == "slow-sink":
            slow_sink(conn, int(args[0]))
            return
        if mode == "flood-no-read":
            event("OPEN")
            chunk = (b"\x81\x7e\x04\x00" + b"f" * 1024) * 64  # 64 text messages of 1 KiB
            try:
                for _ in range((1 << 30) // len(chunk)):
                    conn.sendall(chunk)
            except OSError:
                pass
            return
        keep.append(conn)  # never read again, never answer
        event("OPEN")


def report_client_close(conn):
    """Reads until the client closes TCP; prints "CLOSE <code>" for its Close frame
    (client frames are masked: RFC 6455 §5.3)."""
    data = b""
    try:
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    while len(data) >= 6:
        n = data[1] & 0x7f  # control frames are short (RFC 6455 §5.5)
        if len(data) < 6 + n:
            break
        payload = bytes(b ^ data[2 + i % 4] for i, b in enumerate(data[6:6 + n]))
        if data[0] & 0x0f == 8:
            event(f"CLOSE {struct.unpack('>H', payload[:2])[0] if len(payload) >= 2 else 'none'}")
            return
        data = data[6 + n:]
    event("CLOSE none")


def ping_flood(conn, count):
    event("OPEN")
    chunk = (b"\x89\x7d" + b"p" * 125) * 1000
    conn.settimeout(2.0)  # the client has read nothing for this long: it stopped reading
    sent = 0
    try:
        for _ in range(count // 1000):
            conn.sendall(chunk)
            sent += len(chunk)
    except socket.timeout:
        event(f"STALLED {sent}")
        threading.Event().wait()  # hold the connection; the test ends the client
    except OSError:
        event(f"ERROR {sent}")
        return
    event("SENT ALL")
    threading.Event().wait()


def slow_sink(conn, rate):
    """Reads client frames at most `rate` bytes a second; counts text messages."""
    event("OPEN")
    buf = b""
    count = 0
    step = max(1, rate // 50)  # 50 reads a second
    while True:
        started = time.monotonic()
        data = conn.recv(step)
        if not data:
            event(f"RECEIVED {count}")
            return
        buf += data
        while len(buf) >= 2:
            opcode, n = buf[0] & 0x0f, buf[1] & 0x7f
            head = 2
            if n == 126:
                if len(buf) < 4:
                    break
                n, head = struct.unpack(">H", buf[2:4])[0], 4
            elif n == 127:
                if len(buf) < 10:
                    break
                n, head = struct.unpack(">Q", buf[2:10])[0], 10
            head += 4  # the client's masking key
            if len(buf) < head + n:
                break
            buf = buf[head + n:]
            if opcode == 1:
                count += 1
            elif opcode == 8:
                conn.sendall(b"\x88\x02\x03\xe8")
                event(f"RECEIVED {count}")
                conn.close()
                return
        time.sleep(max(0.0, 0.02 - (time.monotonic() - started)))


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    if mode == "backlog-full":
        # listen(0) holds one connection in the accept queue; fill it and never accept:
        # Linux then drops further SYNs, and a client's connect() hangs.
        listener.listen(0)
        fillers = []
        for _ in range(2):
            f = socket.socket()
            f.setblocking(False)
            f.connect_ex(listener.getsockname())  # the second one already hangs: fine
            fillers.append(f)
        print(f"PORT {listener.getsockname()[1]}", flush=True)
        threading.Event().wait()
        return
    listener.listen(16)
    print(f"PORT {listener.getsockname()[1]}", flush=True)
    keep = []  # connections held open on purpose
    while True:
        conn, _ = listener.accept()
        if mode == "silent":
            keep.append(conn)
            event("ACCEPTED")
            continue
        threading.Thread(target=serve, args=(conn, mode, args, keep), daemon=True).start()


if __name__ == "__main__":
    main()
