#!/usr/bin/python3
"""A small proxy for wsbridge's tests: HTTP CONNECT or SOCKS5 (RFC 1928/1929).

Prints "PORT <n>" once listening on 127.0.0.1, then for each tunnel one event line:
"CONNECT <host>:<port>" (http), "SOCKS <kind> <host>:<port>" (kind: name, ipv4, ipv6),
or "REFUSED <why>". Whatever host is asked for, it connects to 127.0.0.1 (the tests
may only use loopback), so a test can name a host that does not resolve here.

Usage: proxy_server.py http|socks5 [--auth USER:PASS] [--refuse]
  --auth    require these credentials (Proxy-Authorization Basic, or SOCKS5 user/pass)
  --refuse  refuse every tunnel (HTTP 403, SOCKS5 reply 2: not allowed by ruleset)
"""
import argparse
import base64
import ipaddress
import socket
import struct
import threading


def event(line):
    print(line, flush=True)


def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError("client went away")
        data += chunk
    return data


def relay(a, b):
    def pump(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
    t = threading.Thread(target=pump, args=(b, a), daemon=True)
    t.start()
    pump(a, b)
    t.join()
    a.close()
    b.close()


def serve_http(conn, opts):
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = conn.recv(4096)
        if not chunk:
            return
        head += chunk
    lines = head.split(b"\r\n")
    method, target, _ = lines[0].decode().split(" ", 2)
    headers = {k.strip().lower(): v.strip() for k, v in (l.decode().split(":", 1) for l in lines[1:] if b":" in l)}
    if method != "CONNECT":
        conn.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
        return
    if opts.auth:
        expected = "Basic " + base64.b64encode(opts.auth.encode()).decode()
        if headers.get("proxy-authorization") != expected:
            event("REFUSED credentials")
            conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
            return
    if opts.refuse:
        event("REFUSED rule")
        conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
        return
    port = int(target.rsplit(":", 1)[1])
    event(f"CONNECT {target}")
    upstream = socket.create_connection(("127.0.0.1", port))
    conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    relay(conn, upstream)


def serve_socks5(conn, opts):
    ver, n = recv_exact(conn, 2)
    methods = recv_exact(conn, n)
    want = 2 if opts.auth else 0
    if ver != 5 or want not in methods:
        conn.sendall(b"\x05\xff")
        event("REFUSED methods")
        return
    conn.sendall(bytes([5, want]))
    if want == 2:
        _, ulen = recv_exact(conn, 2)
        user = recv_exact(conn, ulen)
        (plen,) = recv_exact(conn, 1)
        password = recv_exact(conn, plen)
        if f"{user.decode()}:{password.decode()}" != opts.auth:
            conn.sendall(b"\x01\x01")
            event("REFUSED credentials")
            return
        conn.sendall(b"\x01\x00")
    _, cmd, _, atyp = recv_exact(conn, 4)
    if atyp == 1:
        host, kind = str(ipaddress.IPv4Address(recv_exact(conn, 4))), "ipv4"
    elif atyp == 4:
        host, kind = str(ipaddress.IPv6Address(recv_exact(conn, 16))), "ipv6"
    else:
        (length,) = recv_exact(conn, 1)
        host, kind = recv_exact(conn, length).decode(), "name"
    (port,) = struct.unpack(">H", recv_exact(conn, 2))
    if opts.refuse or cmd != 1:
        conn.sendall(b"\x05\x02\x00\x01\x00\x00\x00\x00\x00\x00")
        event("REFUSED rule")
        return
    event(f"SOCKS {kind} {host}:{port}")
    upstream = socket.create_connection(("127.0.0.1", port))
    conn.sendall(b"\x05\x00\x00\x01\x7f\x00\x00\x01" + struct.pack(">H", port))
    relay(conn, upstream)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=["http", "socks5"])
    p.add_argument("--auth")
    p.add_argument("--refuse", action="store_true")
    opts = p.parse_args()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    print(f"PORT {listener.getsockname()[1]}", flush=True)
    serve = serve_http if opts.kind == "http" else serve_socks5

    def guarded(conn):
        try:
            serve(conn, opts)
        except (OSError, ConnectionError, ValueError):
            pass
        finally:
            conn.close()

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=guarded, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
