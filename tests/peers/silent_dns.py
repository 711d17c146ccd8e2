#!/usr/bin/python3
"""A DNS server that reads queries and never answers, on 127.0.0.1:53 (run it inside a
network namespace the test created). Prints "READY", then "QUERY" per query."""
import socket

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
print("READY", flush=True)
while True:
    s.recvfrom(4096)
    print("QUERY", flush=True)
