#!/usr/bin/python3
"""Smoke check of bench/servers.py without tern-bench: starts each server
variant, registers a few accounts in-band, logs them in without TLS and
with STARTTLS, and stops the server.  Exits non-zero if any step fails.

usage: bench/check-servers.py [tern,prosody,ejabberd]"""

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402
import xmppc  # noqa: E402


def check(cls, tuned, work, cert):
    srv = cls(work, cert, tuned=tuned)
    t0 = time.monotonic()
    try:
        srv.start()
        t1 = time.monotonic()
        plain = xmppc.mechanisms(srv.port, tls=False)
        tls = xmppc.mechanisms(srv.port, tls=True)
        mech = servers.mech_for(srv)
        for i in range(1, 4):
            xmppc.register(srv.port, "bench%d" % i, "bench",
                           tls=srv.register_tls)
        jids = [xmppc.login(srv.port, "bench%d" % i, "bench", mech, t)
                for i in (1, 2) for t in (False, True)]
        with open("/proc/%d/comm" % srv.pid) as f:
            comm = f.read().strip()
        print("%-16s pid %d (%s) started in %.1fs; mechanisms no-TLS %s, "
              "STARTTLS %s; used %s; logged in %s" % (
                  srv.label, srv.pid, comm, t1 - t0, plain, tls, mech,
                  ", ".join(jids)))
        return True
    except Exception as e:   # report and go on with the next server
        tail = "" if isinstance(e, servers.StartError) else srv.log_tail()
        print("%-16s FAILED: %s\n%s" % (srv.label, e, tail))
        return False
    finally:
        srv.stop()
        if srv.alive():
            print("%s still running after stop" % srv.label)


def main():
    kinds = (sys.argv[1] if len(sys.argv) > 1 else
             "tern,prosody,ejabberd").split(",")
    ok = True
    with tempfile.TemporaryDirectory(prefix="tern-bench-check-") as work:
        cert = servers.make_cert(work)
        for cls, tuned in servers.variants(kinds):
            ok = check(cls, tuned, work, cert) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
