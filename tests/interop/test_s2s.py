"""Federation between a ternd (a.test) and a peer (b.test): a second
ternd, and Debian's prosody.  Both run on loopback with their own
ports; tern reaches the peer through an s2s_route line, a ternd peer
reaches tern the same way, and prosody through mod_test_s2s_route
(tests/interop/prosody), a test-only module that pins a.test to
tern's s2s port by replacing the resolver Prosody 0.12's mod_s2s asks
for its connection targets (no DNS, no /etc/hosts).  Cases: messages
both ways, the subscription handshake both ways with both rosters
checked on both servers, presence when a user logs out, a stanza to a
remote account that does not exist, a remote server that is down, and
the s2s stream rules (dialback keys, unauthenticated domains), and
setup failures a scripted fake peer provokes (a TLS handshake that
fails, a dialback key refused), each bounced and logged.  The
certificates are self-signed, so the servers authenticate each other
with Server Dialback (XEP-0220)."""

import asyncio
import re
import socket
import time
import xml.etree.ElementTree as ET

import pytest

from s2slib import (DomainClients, DomainServer, Prosody, make_domain_cert,
                    until)
from ternlib import (NS_STREAM, NS_TLS, WAIT, RawStream, free_port, q, run)

A, B = "a.test", "b.test"
ALICE = "alice@a.test"
BOB = "bob@b.test"
PW = {ALICE: "alice-pw-1", BOB: "bob-pw-2", "carol@a.test": "carol-pw-3"}
NS_ROSTER = "jabber:iq:roster"
NS_DB = "jabber:server:dialback"
AVAILABLE = ("available", "away", "chat", "dnd", "xa")


def users_of(dom):
    return {j: p for j, p in PW.items() if j.endswith("@" + dom)}


def make_peer(kind, tmp_path, **kw):
    """b.test: a ternd or a prosody, not started."""
    cert, key = make_domain_cert(str(tmp_path), B)
    d = tmp_path / ("%s-%s" % (kind, B))
    d.mkdir()
    if kind == "prosody":
        return Prosody(d, B, cert, key, users=users_of(B), **kw)
    return DomainServer(d, B, cert, key, users=users_of(B), **kw)


def start_servers(kind, tmp_path, request):
    """a.test (ternd) and b.test (kind), routed to each other, started;
    stopped at teardown, where a crash fails the test."""
    cert, key = make_domain_cert(str(tmp_path), A)
    d = tmp_path / A
    d.mkdir()
    a = DomainServer(d, A, cert, key, users=users_of(A))
    b = make_peer(kind, tmp_path)
    a.route(B, b.s2s_port)
    b.route(A, a.s2s_port)
    made = [a, b]
    request.node._tern_servers = [a] if kind == "prosody" else made

    def stop():
        problems = []
        for srv in made:
            for p in srv.stop():
                problems.append("%s\n%s" % (p, srv.log_tail()))
        if problems:
            pytest.fail("\n\n".join(problems), pytrace=False)
    request.addfinalizer(stop)
    for srv in made:
        srv.start()
    return a, b


@pytest.fixture(params=["tern", "prosody"])
def servers(tmp_path, binaries, request):
    return start_servers(request.param, tmp_path, request)


@pytest.fixture
def tern_pair(tmp_path, binaries, request):
    """For checks of tern's own s2s listener: the peer is a ternd."""
    return start_servers("tern", tmp_path, request)


def is_prosody(srv):
    return isinstance(srv, Prosody)


def manual(c):
    c.roster.auto_authorize = None
    c.roster.auto_subscribe = False
    return c


async def login(cs, srv, jid, **kw):
    c = manual(cs.client(jid, PW[jid.split("/")[0]]))
    await c.start(srv.c2s_port, **kw)
    await c.get_roster(timeout=WAIT)
    return c


async def server_roster(c):
    iq = c.make_iq_get()
    iq.append(ET.fromstring("<query xmlns='%s'/>" % NS_ROSTER))
    r = await iq.send(timeout=WAIT)
    return {jid: (it["subscription"], it["ask"] == "subscribe")
            for jid, it in r["roster"]["items"].items()}


def item(c, jid):
    if jid not in c.client_roster:
        return None
    it = c.client_roster[jid]
    return it["subscription"], it["pending_out"]


class Events:
    def __init__(self, client, name):
        self.queue = asyncio.Queue()
        self.name = name
        client.add_event_handler(name, self.queue.put_nowait)

    async def next(self, pred=lambda x: True, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                x = await asyncio.wait_for(self.queue.get(), max(left, 0))
            except asyncio.TimeoutError:
                raise AssertionError("no %s within %ss" % (self.name,
                                                            timeout))
            if pred(x):
                return x


def test_message_both_ways(servers):
    a, b = servers

    async def go():
        async with DomainClients(a) as cs:
            alice = await login(cs, a, ALICE + "/pc")
            bob = await login(cs, b, BOB + "/phone")
            alice.send_message(mto=BOB, mbody="hello from a", mtype="chat")
            m = await bob.next_message()
            assert m["body"] == "hello from a"
            assert m["from"] == ALICE + "/pc"
            bob.send_message(mto=ALICE + "/pc", mbody="hi from b",
                             mtype="chat")
            m = await alice.next_message()
            assert m["body"] == "hi from b"
            assert m["from"] == BOB + "/phone"
            # A second exchange reuses the authenticated streams.
            for i in range(5):
                alice.send_message(mto=BOB, mbody="n%d" % i, mtype="chat")
            for i in range(5):
                assert (await bob.next_message())["body"] == "n%d" % i
    run(go())
    assert a.wait_log(r"s2s a\.test -> b\.test: outgoing stream "
                      r"authenticated \(dialback\)", timeout=1)
    assert a.wait_log(r"s2s b\.test -> a\.test: incoming stream "
                      r"authenticated \(dialback\)", timeout=1)
    if is_prosody(b):
        assert b.wait_log(r"connection b\.test->a\.test is now "
                          r"authenticated for a\.test", timeout=3)
    else:
        assert b.wait_log(r"s2s b\.test -> a\.test: outgoing stream "
                          r"authenticated \(dialback\)", timeout=1)


async def handshake(user, contact):
    u, cj = user.boundjid.bare, contact.boundjid.bare
    before_u = item(user, cj)
    want_u = "both" if before_u and before_u[0] == "from" else "to"
    before_c = item(contact, u)
    want_c = "both" if before_c and before_c[0] == "to" else "from"
    asked = Events(contact, "presence_subscribe")
    user.send_presence(pto=cj, ptype="subscribe")
    await asked.next(lambda p: p["from"] == u)
    contact.send_presence(pto=u, ptype="subscribed")
    await until(lambda: item(user, cj) == (want_u, False),
                "%s to be %s in %s's roster" % (cj, want_u, u))
    await until(lambda: item(contact, u) == (want_c, False),
                "%s to be %s in %s's roster" % (u, want_c, cj))


def test_subscription_both_ways_and_presence(servers):
    a, b = servers

    async def go():
        async with DomainClients(a) as cs:
            alice = await login(cs, a, ALICE + "/pc")
            bob = await login(cs, b, BOB + "/phone")
            # alice -> bob, then bob -> alice: 'both' on each side.
            await handshake(alice, bob)
            assert (await server_roster(alice))[BOB] == ("to", False)
            assert (await server_roster(bob))[ALICE] == ("from", False)
            await handshake(bob, alice)
            assert (await server_roster(alice))[BOB] == ("both", False)
            assert (await server_roster(bob))[ALICE] == ("both", False)

            # Presence across servers: a new resource of bob is seen by
            # alice, and its logout too (the stream just drops).
            avail = Events(alice, "presence_available")
            gone = Events(alice, "presence_unavailable")
            bob2 = await login(cs, b, BOB + "/tablet")
            await avail.next(lambda p: p["from"] == BOB + "/tablet")
            bob2.kill()
            await gone.next(lambda p: p["from"] == BOB + "/tablet")
            # And an explicit logout the other way.
            bgone = Events(bob, "presence_unavailable")
            alice.send_presence(ptype="unavailable")
            await bgone.next(lambda p: p["from"] == ALICE + "/pc")

            # A probe answered across servers: a fresh login of alice
            # learns that bob is online.
            avail2 = []
            alice2 = manual(cs.client(ALICE + "/laptop", PW[ALICE]))
            alice2.add_event_handler(
                "presence_available", lambda p: avail2.append(str(
                    p["from"])))
            await alice2.start(a.c2s_port)
            await until(lambda: BOB + "/phone" in avail2,
                        "bob's presence at alice's new resource")

            # Unsubscribe travels too.
            alice2.send_presence(pto=BOB, ptype="unsubscribe")
            await until(lambda: item(bob, ALICE) is not None and
                        item(bob, ALICE)[0] == "to",
                        "bob's roster to show 'to' after alice left")
            assert (await server_roster(alice2))[BOB] == ("from", False)
    run(go())


def test_remote_user_missing_bounced(servers):
    a, b = servers

    async def go():
        async with DomainClients(a) as cs:
            alice = await login(cs, a, ALICE + "/pc")
            alice.send_message(mto="nobody@b.test", mbody="anyone?",
                               mtype="chat")
            e = await alice.next_error()
            assert e["error"]["condition"] == "service-unavailable"
            assert e["from"] == "nobody@b.test"
            iq = alice.make_iq_get(queryxmlns="jabber:iq:version",
                                   ito="nobody@b.test/x")
            try:
                await iq.send(timeout=WAIT)
                raise AssertionError("an iq to nobody was answered")
            except Exception as ex:   # IqError
                assert ex.iq["error"]["condition"] == \
                    "service-unavailable", ex
    run(go())


def test_remote_server_down(tmp_path, binaries, request):
    cert, key = make_domain_cert(str(tmp_path), A)
    d = tmp_path / "a"
    d.mkdir()
    a = DomainServer(d, A, cert, key, users={ALICE: PW[ALICE]},
                     extra_conf="s2s_connect_timeout 3s;")
    closed = free_port()            # nobody listens there
    a.route(B, closed)
    # A server that accepts connections and never says a word.
    mute = socket.socket()
    mute.bind(("127.0.0.1", 0))
    mute.listen(8)
    a.route("mute.test", mute.getsockname()[1])
    request.node._tern_servers = [a]
    a.start()

    async def go():
        async with DomainClients(a) as cs:
            alice = await login(cs, a, ALICE + "/pc")
            t0 = time.monotonic()
            for i in range(3):
                alice.send_message(mto=BOB, mbody="m%d" % i, mtype="chat")
            for i in range(3):
                e = await alice.next_error(timeout=5)
                assert e["error"]["condition"] == \
                    "remote-server-not-found"
                assert e["body"] == "" or e["body"].startswith("m")
            assert time.monotonic() - t0 < 5
            # A server that never answers: remote-server-timeout
            # within s2s_connect_timeout (3s).
            t0 = time.monotonic()
            alice.send_message(mto="x@mute.test", mbody="?",
                               mtype="chat")
            e = await alice.next_error(timeout=8)
            assert e["error"]["condition"] == "remote-server-timeout"
            assert 2 < time.monotonic() - t0 < 7
    try:
        run(go())
        assert a.wait_log(r"s2s a\.test -> b\.test: TCP connection "
                          r"refused", timeout=1), a.log_tail()
        assert a.wait_log(r"s2s a\.test -> mute\.test: stream "
                          r"negotiation timeout", timeout=1), a.log_tail()
    finally:
        mute.close()
        problems = a.stop()
        assert not problems, problems


def raw_s2s(srv, to, frm):
    """A raw server stream to srv, after STARTTLS; the features."""
    r = RawStream(srv.s2s_port)
    hdr = ("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
           "xmlns:db='jabber:server:dialback' "
           "xmlns:stream='http://etherx.jabber.org/streams' "
           "to='%s' from='%s' version='1.0'>" % (to, frm))
    r.HEADER = hdr.replace(to, "%s")
    f = r.open(to)
    assert f.find(q(NS_TLS, "starttls")) is not None
    r.starttls()
    f = r.open(to)
    return r, f


def test_unauthenticated_domain_refused(tern_pair):
    a, b = tern_pair
    r, f = raw_s2s(a, A, "evil.test")
    assert f.find(q("urn:xmpp:features:dialback", "dialback")) is not None
    r.send("<message from='x@evil.test' to='alice@a.test'><body>hi"
           "</body></message>")
    assert r.stream_error() == ["invalid-from"]
    r.close()


def test_dialback_bad_key_and_authoritative(tern_pair):
    a, b = tern_pair
    # We pretend to be b.test with a made-up key: a.test asks b.test
    # (the authoritative server), which denies it.
    r, f = raw_s2s(a, A, B)
    r.send("<db:result from='%s' to='%s'>%s</db:result>" % (B, A, "00" * 32))
    el = r.expect(q(NS_DB, "result"))
    assert el.get("type") == "invalid"
    # Still not allowed to send stanzas for b.test.
    r.send("<message from='bob@b.test' to='alice@a.test'/>")
    assert r.stream_error() == ["invalid-from"]
    r.close()
    assert b.wait_log(r"not ours \(someone claims to be b\.test\)")
    assert a.wait_log(r"s2s b\.test -> a\.test: dialback failed")

    # A domain whose authoritative server cannot be reached: an error
    # result (XEP-0220 2.4), and the stream stays usable.
    r, f = raw_s2s(a, A, "gone.invalid")
    r.send("<db:result from='gone.invalid' to='%s'>%s</db:result>"
           % (A, "22" * 32))
    el = r.expect(q(NS_DB, "result"))
    assert el.get("type") == "error"
    err = el.find("{jabber:server}error")
    assert err is not None and err.find(
        "{urn:ietf:params:xml:ns:xmpp-stanzas}remote-connection-failed") \
        is not None, ET.tostring(el)
    assert b"<db:result xmlns:db='jabber:server:dialback'" in r.received
    r.send("<db:verify from='%s' to='%s' id='x'>00</db:verify>" % (B, A))
    assert r.expect(q(NS_DB, "verify")).get("type") == "invalid"
    r.close()

    # As authoritative server, a.test denies a key it did not make.
    r, f = raw_s2s(a, A, B)
    r.send("<db:verify from='%s' to='%s' id='abc'>%s</db:verify>"
           % (B, A, "11" * 32))
    el = r.expect(q(NS_DB, "verify"))
    assert el.get("type") == "invalid" and el.get("id") == "abc"
    r.close()


def test_stanzas_need_tls(tern_pair):
    a, b = tern_pair
    r = RawStream(a.s2s_port)
    r.HEADER = ("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
                "xmlns:stream='http://etherx.jabber.org/streams' "
                "to='%s' from='b.test' version='1.0'>")
    f = r.open(A)
    assert f.find(q(NS_TLS, "starttls")).find(q(NS_TLS, "required")) \
        is not None
    r.send("<db:result xmlns:db='jabber:server:dialback' from='b.test' "
           "to='a.test'>abcd</db:result>")
    assert r.stream_error() == ["policy-violation"]
    r.close()


def test_peer_goes_down(servers):
    """Each side sees remote-server-not-found, quickly, once the other
    server is gone (also after a stream between them was up)."""
    a, b = servers

    async def go():
        async with DomainClients(a) as cs:
            alice = await login(cs, a, ALICE + "/pc")
            bob = await login(cs, b, BOB + "/phone")
            alice.send_message(mto=BOB, mbody="up", mtype="chat")
            assert (await bob.next_message())["body"] == "up"
            bob.send_message(mto=ALICE, mbody="up too", mtype="chat")
            assert (await alice.next_message())["body"] == "up too"
            # b.test stops: tern's stream to it ends; a new one is
            # refused.
            assert not b.stop()
            b.expect_exit = True
            await asyncio.sleep(0.2)
            t0 = time.monotonic()
            alice.send_message(mto=BOB, mbody="anyone?", mtype="chat")
            e = await alice.next_error(timeout=5)
            assert e["error"]["condition"] == "remote-server-not-found"
            assert time.monotonic() - t0 < 5
    run(go())


def test_tern_goes_down(servers):
    a, b = servers

    async def go():
        async with DomainClients(a) as cs:
            bob = await login(cs, b, BOB + "/phone")
            a.signal(15)
            assert a.wait_exit() == 0
            a.expect_exit = True
            t0 = time.monotonic()
            bob.send_message(mto=ALICE, mbody="anyone?", mtype="chat")
            e = await bob.next_error(timeout=12)
            assert e["error"]["condition"] in (
                "remote-server-not-found", "remote-server-timeout")
            assert time.monotonic() - t0 < 12
    run(go())


def test_idle_stream_closed_and_reopened(tmp_path, binaries, request):
    cert, key = make_domain_cert(str(tmp_path), A)
    d = tmp_path / A
    d.mkdir()
    a = DomainServer(d, A, cert, key, users=users_of(A),
                     extra_conf="s2s_idle_timeout 1s;")
    b = make_peer("tern", tmp_path)
    a.route(B, b.s2s_port)
    b.route(A, a.s2s_port)
    request.node._tern_servers = [a, b]
    a.start()
    b.start()

    async def go():
        async with DomainClients(a) as cs:
            alice = await login(cs, a, ALICE + "/pc")
            bob = await login(cs, b, BOB + "/phone")
            alice.send_message(mto=BOB, mbody="one", mtype="chat")
            assert (await bob.next_message())["body"] == "one"
            assert a.wait_log(r"s2s b\.test: idle for 1s, closing",
                              timeout=5)
            alice.send_message(mto=BOB, mbody="two", mtype="chat")
            assert (await bob.next_message())["body"] == "two"
    try:
        run(go())
        assert len(re.findall(r"a\.test -> b\.test: outgoing stream "
                              r"authenticated", a.log_text())) == 2
    finally:
        problems = a.stop() + b.stop()
        assert not problems, problems


class FakePeer:
    """A scripted remote server on a loopback port, for failures a real
    one does not produce on demand.  mode: "garbage-tls" answers
    STARTTLS with <proceed/>, then bytes that are not TLS; "refuse-key"
    completes TLS and answers our dialback key with type='invalid'."""

    def __init__(self, mode, cert, key, domain=B):
        import threading
        self.mode, self.domain = mode, domain
        self.cert, self.key = cert, key
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.seen = b""
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()

    def _read_until(self, conn, token, deadline):
        buf = b""
        while token not in buf and time.monotonic() < deadline:
            try:
                data = conn.recv(4096)
            except (socket.timeout, TimeoutError):
                continue
            if not data:
                break
            buf += data
        self.seen += buf
        return buf

    def _header(self):
        return ("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
                "xmlns:stream='http://etherx.jabber.org/streams' "
                "xmlns:db='jabber:server:dialback' from='%s' id='fake1' "
                "version='1.0'>" % self.domain).encode()

    def _serve(self, conn):
        import ssl as ssl_mod
        deadline = time.monotonic() + 10
        conn.settimeout(0.2)
        self._read_until(conn, b">", deadline)
        conn.sendall(self._header() + b"<stream:features><starttls xmlns="
                     b"'urn:ietf:params:xml:ns:xmpp-tls'><required/>"
                     b"</starttls></stream:features>")
        self._read_until(conn, b"starttls", deadline)
        conn.sendall(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        if self.mode == "garbage-tls":
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" * 4)
            self._read_until(conn, b"\0never", deadline)
            return
        ctx = ssl_mod.SSLContext(ssl_mod.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        conn.settimeout(5)
        tls = ctx.wrap_socket(conn, server_side=True)
        tls.settimeout(0.2)
        self._read_until(tls, b">", deadline)
        tls.sendall(self._header() + b"<stream:features><dialback xmlns="
                    b"'urn:xmpp:features:dialback'/></stream:features>")
        self._read_until(tls, b"</db:result>", deadline)
        tls.sendall(b"<db:result from='%s' to='a.test' type='invalid'/>"
                    % self.domain.encode())
        self._read_until(tls, b"\0never", deadline)

    def _run(self):
        deadline = time.monotonic() + 60
        while not self.stopping and time.monotonic() < deadline:
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, TimeoutError):
                continue
            except OSError:
                return
            try:
                self._serve(conn)
            except OSError:
                pass
            finally:
                conn.close()


@pytest.mark.parametrize("mode,logged", [
    ("garbage-tls", r"s2s a\.test -> b\.test: TLS handshake failed: "
                    r"\S.*wrong version number"),
    ("refuse-key", r"s2s a\.test -> b\.test: dialback invalid: the peer "
                   r"refused our key"),
])
def test_setup_failures_bounced_and_logged(tmp_path, binaries, request,
                                           mode, logged):
    cert, key = make_domain_cert(str(tmp_path), A)
    d = tmp_path / A
    d.mkdir()
    a = DomainServer(d, A, cert, key, users=users_of(A))
    bcert, bkey = make_domain_cert(str(tmp_path), B)
    peer = FakePeer(mode, bcert, bkey)
    request.addfinalizer(peer.stop)
    a.route(B, peer.port)
    request.node._tern_servers = [a]
    a.start()

    async def go():
        async with DomainClients(a) as cs:
            alice = await login(cs, a, ALICE + "/pc")
            t0 = time.monotonic()
            alice.send_message(mto=BOB, mbody="x", mtype="chat")
            try:
                e = await alice.next_error(timeout=8)
            except AssertionError:
                raise AssertionError("no bounce; the peer read %r"
                                     % peer.seen)
            assert e["error"]["condition"] == "remote-server-not-found"
            assert time.monotonic() - t0 < 8
    try:
        run(go())
        assert a.wait_log(logged, timeout=1), a.log_tail()
        if mode == "garbage-tls":
            assert a.wait_log(r"b\.test: TLS error during handshake",
                              timeout=1), a.log_tail()
    finally:
        problems = a.stop()
        assert not problems, problems


def test_incoming_for_unknown_domain(tern_pair):
    a, b = tern_pair
    r = RawStream(a.s2s_port)
    r.HEADER = ("<?xml version='1.0'?><stream:stream xmlns='jabber:server' "
                "xmlns:stream='http://etherx.jabber.org/streams' "
                "to='%s' from='b.test' version='1.0'>")
    r.send(r.HEADER % "not-served.test")
    assert r.stream_error() == ["host-unknown"]
    r.close()
