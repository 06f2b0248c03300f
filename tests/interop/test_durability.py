"""kill -9 in the middle of traffic (issue 5): every stanza the server
acknowledged before it died is there after the restart.

alice streams roster changes (acknowledged by their iq result) and
messages to offline bob (acknowledged by the answer to a ping sent right
after each: a stream is processed in order and every store write is
committed before the next stanza is read) while ternd gets SIGKILL at a
moment the test does not control.  The test counts what was acknowledged
and finds all of it after the restart."""

import signal
import threading
import time

from ternlib import NS_CLIENT, WAIT, RawStream, q

NS_ROSTER = "jabber:iq:roster"
HOST_CONF = "modules roster presence offline ping; offline_max_messages 10000;"


def test_sigkill_keeps_everything_acknowledged(make_server):
    srv = make_server(host_conf=HOST_CONF)
    a = RawStream(srv.c2s_port)
    a.login("alice", "alice-secret-1")
    acked_roster, acked_msgs = [], []
    stop_at = time.monotonic() + 30

    def killer():
        # Let traffic run, then kill without warning.
        time.sleep(1.5)
        srv.signal(signal.SIGKILL)

    t = threading.Thread(target=killer)
    t.start()
    i = 0
    pending = {}
    try:
        while time.monotonic() < stop_at and not a.closed:
            # Keep a few operations in flight, like a busy client.
            while len(pending) < 8:
                a.send("<iq type='set' id='r%d'><query xmlns='%s'>"
                       "<item jid='c%d@example.net' name='contact %d'/>"
                       "</query></iq>" % (i, NS_ROSTER, i, i))
                a.send("<message to='bob@localhost' type='chat' id='m%d'>"
                       "<body>message %d</body></message>"
                       "<iq type='get' id='p%d'><ping xmlns='urn:xmpp:ping'/>"
                       "</iq>" % (i, i, i))
                pending[i] = 2
                i += 1
            el = a.poll(2)
            if el is None:
                continue
            if el.tag != q(NS_CLIENT, "iq") or el.get("type") != "result":
                continue
            sid = el.get("id") or ""
            if sid[:1] in ("r", "p") and sid[1:].isdigit():
                n = int(sid[1:])
                (acked_roster if sid[0] == "r" else acked_msgs).append(n)
                pending[n] -= 1
                if pending[n] == 0:
                    del pending[n]
    finally:
        t.join()
        a.close()
    assert srv.wait_exit(WAIT) == -signal.SIGKILL
    assert len(acked_roster) >= 10 and len(acked_msgs) >= 10, (
        "too little traffic before the kill to prove anything: %d/%d"
        % (len(acked_roster), len(acked_msgs)))
    print("acknowledged before SIGKILL: %d roster sets, %d messages"
          % (len(acked_roster), len(acked_msgs)))
    srv.start()

    a = RawStream(srv.c2s_port)
    a.login("alice", "alice-secret-1")
    r = None
    a.send("<iq type='get' id='roster'><query xmlns='%s'/></iq>" % NS_ROSTER)
    while r is None:
        el = a.next(WAIT)
        assert el is not None, a.transcript()
        if el.get("id") == "roster":
            r = el
    items = {it.get("jid") for it in r.iter("{%s}item" % NS_ROSTER)}
    missing = [n for n in acked_roster if "c%d@example.net" % n not in items]
    assert not missing, "acknowledged roster items lost: %r" % missing[:20]
    a.close()

    b = RawStream(srv.c2s_port)
    b.login("bob", "bob-Secret-2")
    b.send("<presence/>")
    got = set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        el = b.poll(3)
        if el is None:
            break
        if el.tag == q(NS_CLIENT, "message"):
            got.add(el.get("id"))
    missing = [n for n in acked_msgs if "m%d" % n not in got]
    assert not missing, ("acknowledged offline messages lost: %r (of %d)"
                         % (missing[:20], len(acked_msgs)))
    b.close()
