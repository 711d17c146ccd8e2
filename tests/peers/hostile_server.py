#!/usr/bin/python3
"""Small misbehaving servers for wsbridge's tests. Prints "PORT <n>" once listening on
127.0.0.1 with an ephemeral port.

Modes:
  http STATUS [LOCATION]  answer every request with this HTTP status (Content-Length: 0)
                          and close, e.g. 403, or 302 with a Location header
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
"""
import base64
import hashlib
import socket
import sys
import threading

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
REASONS = {101: "Switching Protocols", 301: "Moved Permanently", 302: "Found", 303: "See Other",
           307: "Temporary Redirect", 308: "Permanent Redirect", 400: "Bad Request",
           401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 500: "Internal Server Error"}


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
    elif mode in ("no-close-reply", "flood-no-read", "subprotocol"):
        extra = f"Sec-WebSocket-Protocol: {args[0]}\r\n" if mode == "subprotocol" else ""
        conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Accept: {accept_key(req)}\r\n{extra}\r\n").encode())
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
