"""Storage faults (issue 5): the LMDB map full and the disk full.

The client gets a clear error (resource-constraint, type wait) and the
log says what to do; ternd keeps running; nothing acknowledged before is
lost or damaged, and once there is space again writes succeed."""

import os
import shutil
import subprocess
import tempfile

import pytest

from ternlib import NS_CLIENT, RawStream, q

NS_PRIVATE = "jabber:iq:private"
HOST_CONF = ("modules offline private; private_max_size 64k; "
             "private_quota 64m; offline_max_bytes 64m; "
             "offline_max_messages 10000;")
ITEM = 48 * 1024


def payload(i):
    # Incompressible enough and different per item.
    return ("%06d" % i) + "".join("%08x" % ((i * 2654435761 + k * 40503)
                                            & 0xffffffff)
                                  for k in range(ITEM // 8))


def iq(stream, iq_id, xml, timeout=10):
    stream.send(xml)
    while True:
        el = stream.next(timeout)
        assert el is not None, "stream closed: " + stream.transcript()
        if el.tag == q(NS_CLIENT, "iq") and el.get("id") == iq_id:
            return el


def error_of(el):
    e = el.find(q(NS_CLIENT, "error"))
    assert e is not None, "no error element"
    conds = [c.tag.split("}")[1] for c in e if not c.tag.endswith("}text")]
    text = e.find("{urn:ietf:params:xml:ns:xmpp-stanzas}text")
    return e.get("type"), conds[0], text.text if text is not None else ""


def store_item(stream, i):
    return iq(stream, "set%d" % i,
              "<iq type='set' id='set%d'><query xmlns='%s'>"
              "<x xmlns='test:item:%d'>%s</x></query></iq>"
              % (i, NS_PRIVATE, i, payload(i)))


def read_item(stream, i):
    r = iq(stream, "get%d" % i,
           "<iq type='get' id='get%d'><query xmlns='%s'>"
           "<x xmlns='test:item:%d'/></query></iq>" % (i, NS_PRIVATE, i))
    assert r.get("type") == "result", r
    x = r.find("%s/{test:item:%d}x" % (q(NS_PRIVATE, "query"), i))
    return x.text if x is not None else None


def fill(stream, limit=200):
    """Stores items until the server refuses one; returns (acked, error)."""
    acked = []
    for i in range(limit):
        r = store_item(stream, i)
        if r.get("type") == "result":
            acked.append(i)
            continue
        return acked, error_of(r)
    pytest.fail("the store never filled up after %d items" % limit)


def check_full_error(err):
    etype, cond, text = err
    assert (etype, cond) == ("wait", "resource-constraint"), err
    assert "storage is full" in text, err


def fill_offline(alice, limit=100):
    """Sends messages to offline bob until one bounces; each is followed
    by a ping so that a bounce is matched to its message.  Returns (the
    ids accepted, the bounce's error)."""
    accepted = []
    for i in range(limit):
        mid = "m%d" % i
        alice.send("<message to='bob@localhost' type='chat' id='%s'>"
                   "<body>%s %s</body></message>"
                   "<iq type='get' id='p%d'><ping xmlns='urn:xmpp:ping'/>"
                   "</iq>" % (mid, mid, "y" * 20000, i))
        bounce = None
        while True:
            el = alice.next(10)
            assert el is not None, alice.transcript()
            if el.tag == q(NS_CLIENT, "message") and el.get("id") == mid:
                assert el.get("type") == "error", el
                bounce = error_of(el)
            elif el.get("id") == "p%d" % i:
                break
        if bounce is not None:
            return accepted, bounce
        accepted.append(mid)
    pytest.fail("offline storage never filled up")


def offline_received(port):
    """Logs bob in and collects the ids of the messages he is given."""
    b = RawStream(port)
    b.login("bob", "bob-Secret-2")
    b.send("<presence/>")
    got = []
    while True:
        el = b.poll(3)
        if el is None:
            break
        if el.tag == q(NS_CLIENT, "message"):
            got.append(el.get("id"))
    b.close()
    return got


def test_map_full(make_server):
    srv = make_server("store_map_size 1m;", host_conf=HOST_CONF)
    a = RawStream(srv.c2s_port)
    a.login("alice", "alice-secret-1")
    acked, err = fill(a)
    assert acked, "not even one item fitted in 1 MiB"
    check_full_error(err)
    assert srv.wait_log(r"store: write private: the store is full "
                        r"\(store_map_size 1 MiB\): raise store_map_size "
                        r"and restart; nothing stored before is lost")
    # Offline messages are stored while they fit, then refused the same
    # way (the sender is told), never dropped silently.
    accepted, bounce = fill_offline(a)
    check_full_error(bounce)
    # Reads still work, and what was acknowledged is intact.
    for i in acked:
        assert read_item(a, i) == payload(i), i
    a.close()
    # More room: restart with a larger map.
    assert srv.stop() == []
    srv.write_conf(srv.conf_text("store_map_size 16m;"))
    srv.start()
    a = RawStream(srv.c2s_port)
    a.login("alice", "alice-secret-1")
    for i in acked:
        assert read_item(a, i) == payload(i), i
    n = acked[-1] + 1
    assert store_item(a, n).get("type") == "result"
    assert read_item(a, n) == payload(n)
    a.close()
    assert offline_received(srv.c2s_port) == accepted


@pytest.fixture
def small_tmpfs():
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    d = tempfile.mkdtemp(prefix="tern-tmpfs-")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=640k,mode=0700",
                    "tern-test", d], check=True, timeout=20)
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", d], timeout=20)
        shutil.rmtree(d, ignore_errors=True)


def test_disk_full_then_space_returns(make_server, small_tmpfs):
    srv = make_server("store_map_size 64m;", host_conf=HOST_CONF,
                      start=False, users={})
    shutil.rmtree(srv.data_dir, ignore_errors=True)
    srv.data_dir = os.path.join(small_tmpfs, "data")
    srv.write_conf()
    srv.adduser("alice@localhost", "alice-secret-1")
    srv.adduser("bob@localhost", "bob-Secret-2")
    srv.start()
    a = RawStream(srv.c2s_port)
    a.login("alice", "alice-secret-1")
    acked, err = fill(a)
    assert acked, "not even one item fitted"
    check_full_error(err)
    assert srv.wait_log(r"store: write private: No space left on device in "
                        r"data_dir %s: free space; nothing stored before "
                        r"is lost" % srv.data_dir)
    accepted, bounce = fill_offline(a)
    check_full_error(bounce)
    for i in acked:
        assert read_item(a, i) == payload(i), i
    # Space returns while ternd runs: the next write succeeds.
    subprocess.run(["mount", "-o", "remount,size=16m", small_tmpfs],
                   check=True, timeout=20)
    n = acked[-1] + 1
    r = store_item(a, n)
    assert r.get("type") == "result", r
    a.close()
    # And after a restart everything acknowledged is there.
    assert srv.stop() == []
    srv.start()
    a = RawStream(srv.c2s_port)
    a.login("alice", "alice-secret-1")
    for i in acked + [n]:
        assert read_item(a, i) == payload(i), i
    a.close()
    assert offline_received(srv.c2s_port) == accepted
