#!/usr/bin/python3
"""Server CPU per routed message, XML-to-XML against binary-to-binary, at
the same message rate (until tern-bench, issue 4, has a binary mode).

Starts a ternd of its own (loopback, ports picked at run time), logs in
two clients built on lib/ternclient.c (tests/interop/binclient, built by
`make check`) in the mode under test, and has one send N chat messages
to the other at RATE messages per second; reports the ternd CPU time
(user + system, from /proc) per message delivered, and the wire bytes
per message of each client.

usage: bench/binary-route.py [BUILD_DIR [N [RATE]]]
       (defaults: build, 20000 messages, 2000 per second)"""

import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "interop"))

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                        os.path.join(HERE, "..", "build"))
os.environ.setdefault("TERND", os.path.join(BUILD, "src", "ternd"))
os.environ.setdefault("TERNCTL", os.path.join(BUILD, "tools", "ternctl"))
import ternlib  # noqa: E402

N = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
RATE = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
BINCLIENT = os.path.join(BUILD, "tests", "interop", "binclient")
USERS = {"alice@localhost": "alice-pw-1", "bob@localhost": "bob-pw-2"}
BODY = ("<message to='bob@localhost/r' type='chat' id='%s'><body>Hello "
        "Bob, message number %d of the benchmark</body><active xmlns="
        "'http://jabber.org/protocol/chatstates'/><request xmlns="
        "'urn:xmpp:receipts'/></message>")


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def client(port, user, mode):
    p = subprocess.Popen([BINCLIENT, "-p", str(port), "-u", user, "-w",
                          USERS[user + "@localhost"], "-r", "r", "-m", mode],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         bufsize=0)
    line = p.stdout.readline().decode()
    if not line.startswith("ready "):
        sys.exit("binclient: " + line)
    return p


def wire_bytes(p):
    p.stdin.write(b"bytes\n")
    while True:
        line = p.stdout.readline().decode()
        if not line:
            sys.exit("binclient exited")
        if line.startswith("bytes "):
            return [int(x) for x in line.split()[1:]]


def run(srv, mode):
    a = client(srv.c2s_port, "alice", mode)
    b = client(srv.c2s_port, "bob", mode)
    a0, b0 = wire_bytes(a), wire_bytes(b)
    c0, t0 = cpu_s(srv.pid), time.monotonic()
    got = sent = 0
    deadline = t0 + N / RATE * 3 + 30
    os.set_blocking(b.stdout.fileno(), False)
    buf = b""
    while got < N:
        now = time.monotonic()
        if now > deadline:
            sys.exit("%s: only %d of %d messages arrived" % (mode, got, N))
        due = min(N, int((now - t0) * RATE) + 1)
        if sent < due:
            a.stdin.write("".join(BODY % ("m%d" % i, i) + "\n"
                                  for i in range(sent, due)).encode())
            sent = due
        try:
            chunk = b.stdout.read(1 << 16)
        except BlockingIOError:
            chunk = None
        if chunk:
            buf += chunk
            lines = buf.split(b"\n")
            buf = lines.pop()
            got += sum(1 for x in lines if x.startswith(b"<message"))
        else:
            time.sleep(0.002)
    c1, t1 = cpu_s(srv.pid), time.monotonic()
    os.set_blocking(b.stdout.fileno(), True)
    a1, b1 = wire_bytes(a), wire_bytes(b)
    for p in (a, b):
        p.stdin.write(b"quit\n")
        p.wait(timeout=10)
    return ((c1 - c0) / N * 1e6, (a1[0] - a0[0]) / N, (b1[1] - b0[1]) / N,
            N / (t1 - t0))


def main():
    if not os.access(BINCLIENT, os.X_OK):
        sys.exit("%s missing: run make -C %s check" % (BINCLIENT, BUILD))
    with tempfile.TemporaryDirectory() as d:
        cert, key = ternlib.make_cert(d)
        os.makedirs(os.path.join(d, "srv"))
        srv = ternlib.Server(os.path.join(d, "srv"), cert, key, users=USERS)
        # Per-stanza debug lines would cost more than the routing.
        srv.write_conf(srv.conf_text().replace("log debug;", "log info;"))
        srv.start()
        try:
            print("%d messages at %d/s, ternd %s" % (N, RATE, ternlib.TERND))
            print("| wire | server CPU us/msg | sender bytes/msg | "
                  "receiver bytes/msg | achieved msg/s |")
            print("|---|---|---|---|---|")
            for mode, name in (("xml", "XML -> XML"),
                               ("negotiate", "binary -> binary")):
                cpu, out, inb, rate = run(srv, mode)
                print("| %s | %.1f | %.0f | %.0f | %.0f |"
                      % (name, cpu, out, inb, rate))
        finally:
            srv.stop()


if __name__ == "__main__":
    main()
