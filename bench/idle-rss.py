#!/usr/bin/python3
"""Preliminary probe until tern-bench exists (issue 4): log N sessions into
a running ternd over STARTTLS with PLAIN, send initial presence, and
report the server's RSS growth per session and the login rate.

usage: bench/idle-rss.py PID PORT USER PASSWORD N
(the account must exist; sessions use resources r0..rN-1)."""

import os
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests",
                                "interop"))
import ternlib  # noqa: E402


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    pid, port, user, pw, n = (int(sys.argv[1]), int(sys.argv[2]),
                              sys.argv[3], sys.argv[4], int(sys.argv[5]))
    if n > 9000:
        sys.exit("at most 9000 sessions from one process")
    resource.setrlimit(resource.RLIMIT_NOFILE, (n + 100, n + 100))
    r0, c0, t0 = rss_kib(pid), cpu_s(pid), time.time()
    streams = []
    for i in range(n):
        s = ternlib.RawStream(port)
        s.login(user, pw, resource="r%d" % i)
        s.send("<presence/>")
        streams.append(s)
    t1, c1 = time.time(), cpu_s(pid)
    time.sleep(1)
    r1 = rss_kib(pid)
    print("sessions %d: server RSS %d -> %d KiB, %.1f KiB/session; "
          "%.0f logins/s (client-bound), server CPU %.2f ms/login"
          % (n, r0, r1, (r1 - r0) / n, n / (t1 - t0),
             1000 * (c1 - c0) / n))
    for s in streams:
        s.close()


if __name__ == "__main__":
    main()
