"""Reading the kernel's TCP table, shared by the interrupt tests and
scripts/interrupt-latency."""


def syn_sent_count(port):
    """How many sockets are in SYN-SENT towards 127.0.0.1:port (/proc/net/tcp state 02)."""
    n = 0
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[3] == "02" and int(fields[2].split(":")[1], 16) == port:
                n += 1
    return n


def send_queue(port):
    """Bytes waiting in the send queue of the socket connected to 127.0.0.1:port (the
    client's side; tx_queue in /proc/net/tcp), 0 if there is none."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[3] == "01" and int(fields[2].split(":")[1], 16) == port:
                return int(fields[4].split(":")[0], 16)
    return 0
