"""The binary wire mode (doc/binary.md) against a live ternd: a client
built on lib/ternclient.c speaking binary (negotiated after SASL, or on a
c2s_bin listener from the first byte) and a slixmpp client speaking XML
build a roster, exchange presence and chat, and each sees the stanzas the
other sent, unknown extensions and xml:lang included.  Negotiation
refusals and a malformed frame are checked on raw streams.

The binary client is tests/interop/binclient (built by `make check`);
BINCLIENT overrides its path."""

import asyncio
import os
import socket
import time
import xml.etree.ElementTree as ET

import pytest

import ternlib
from conftest import PASSWORDS
from ternlib import (Clients, NS_BIND, NS_SASL, RawStream, WAIT, free_port,
                     q, run)

ALICE = "alice@localhost"
BOB = "bob@localhost"
NS_BIN = "http://tern.im/protocol/binary/0"
NS_ROSTER = "jabber:iq:roster"
NS_CLIENT = "jabber:client"
NS_XML = "http://www.w3.org/XML/1998/namespace"
HOST_CONF = "modules roster presence;"
BINCLIENT = os.environ.get("BINCLIENT", os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(ternlib.TERND))),
    "tests", "interop", "binclient"))


@pytest.fixture(scope="module")
def binclient():
    if not os.access(BINCLIENT, os.X_OK):
        pytest.fail("%s not built: run make check (or set BINCLIENT)"
                    % BINCLIENT, pytrace=False)
    return BINCLIENT


class BinClient:
    """tests/interop/binclient as a subprocess: XML lines in and out."""

    def __init__(self, proc):
        self.proc = proc
        self.jid = None
        self.wire = None
        self.seen = []

    @classmethod
    async def start(cls, port, user, password, mode, resource="bin",
                    direct_tls=False):
        proc = await asyncio.create_subprocess_exec(
            BINCLIENT, "-p", str(port), "-u", user, "-w", password,
            "-r", resource, "-m", mode, *(["-T"] if direct_tls else []),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        c = cls(proc)
        line = await c.line()
        assert line.startswith("ready "), "binclient: " + line
        _, c.jid, c.wire = line.split()
        return c

    async def line(self, timeout=WAIT):
        try:
            raw = await asyncio.wait_for(self.proc.stdout.readline(),
                                         timeout)
        except asyncio.TimeoutError:
            raise AssertionError("binclient said nothing in %ss" % timeout)
        assert raw, "binclient exited (%s)" % self.proc.returncode
        return raw.decode("utf-8").rstrip("\n")

    def send(self, xml):
        self.proc.stdin.write(xml.encode("utf-8") + b"\n")

    async def next(self, pred, what, timeout=WAIT):
        """The next received stanza for which pred holds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("binclient: no %s within %ss; saw %s"
                                     % (what, timeout, self.seen[-10:]))
            try:
                line = await self.line(left)
            except AssertionError as e:
                raise AssertionError("%s; waiting for %s; saw %s"
                                     % (e, what, self.seen[-10:]))
            assert not line.startswith(("error", "closed")), line
            if line.startswith("bytes "):
                self.seen.append(line)
                continue
            el = ET.fromstring("<r xmlns='%s'>%s</r>" % (NS_CLIENT, line))[0]
            self.seen.append(line)
            if pred(el):
                return el

    async def all(self, preds, what, timeout=WAIT):
        """One received stanza for each pred, in any order."""
        found = [None] * len(preds)
        deadline = time.monotonic() + timeout
        while None in found:
            left = deadline - time.monotonic()
            el = await self.next(
                lambda e: any(f is None and p(e)
                              for f, p in zip(found, preds)),
                what, max(left, 0.001))
            i = [f is None and p(el)
                 for f, p in zip(found, preds)].index(True)
            found[i] = el
        return found

    async def bytes(self):
        self.send("bytes")
        while True:
            line = await self.line()
            if line.startswith("bytes "):
                return [int(x) for x in line.split()[1:]]

    async def close(self):
        if self.proc.returncode is None:
            try:
                self.send("quit")
                await asyncio.wait_for(self.proc.wait(), WAIT)
            except (asyncio.TimeoutError, ConnectionError):
                self.proc.kill()
                await self.proc.wait()


def manual(c):
    c.roster.auto_authorize = None
    c.roster.auto_subscribe = False
    return c


def is_(tag, **attrs):
    return lambda el: el.tag == q(NS_CLIENT, tag) and all(
        el.get(k) == v for k, v in attrs.items())


def roster_item(el, jid):
    query = el.find(q(NS_ROSTER, "query"))
    if query is None:
        return None
    for it in query.findall(q(NS_ROSTER, "item")):
        if it.get("jid") == jid:
            return it
    return None


async def until(cond, what, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        await asyncio.sleep(0.05)


async def chat_story(srv, port, mode):
    async with Clients(srv) as cs:
        alice = await BinClient.start(port, "alice", PASSWORDS[ALICE], mode)
        try:
            assert alice.wire == "binary"
            assert alice.jid == ALICE + "/bin"
            bob = manual(cs.client(BOB + "/xml", PASSWORDS[BOB]))
            subscribe_seen = asyncio.Queue()
            bob.add_event_handler("presence_subscribe",
                                  subscribe_seen.put_nowait)
            await bob.start(srv.c2s_port)
            await bob.get_roster(timeout=WAIT)
            await story(alice, bob, subscribe_seen)
        finally:
            await alice.close()


async def story(alice, bob, subscribe_seen):
    # Roster: alice asks for it (so she gets pushes), then adds bob; the
    # push and the result come back binary.
    alice.send("<iq type='get' id='r0'><query xmlns='%s'/></iq>"
               % NS_ROSTER)
    await alice.next(is_("iq", type="result", id="r0"), "roster")
    alice.send("<presence/>")
    alice.send("<iq type='set' id='r1'><query xmlns='%s'><item jid='%s' "
               "name='Bob \u263a'><group>Friends</group></item></query>"
               "</iq>" % (NS_ROSTER, BOB))
    push, _ = await alice.all(
        [lambda el: is_("iq", type="set")(el) and roster_item(el, BOB)
         is not None, is_("iq", type="result", id="r1")],
        "roster push and result")
    it = roster_item(push, BOB)
    assert it.get("name") == "Bob \u263a"
    assert it.findtext(q(NS_ROSTER, "group")) == "Friends"

    # alice subscribes to bob, who approves (XML side).
    alice.send("<presence type='subscribe' to='%s'/>" % BOB)
    p = await asyncio.wait_for(subscribe_seen.get(), WAIT)
    assert p["from"].bare == ALICE
    bob.send_presence(pto=ALICE, ptype="subscribed")
    await alice.all(
        [lambda el: is_("iq", type="set")(el) and roster_item(el, BOB)
         is not None and roster_item(el, BOB).get("subscription") == "to",
         is_("presence", type="subscribed", **{"from": BOB})],
        "roster push subscription=to and subscribed from bob")

    # bob subscribes to alice, who approves (binary side).
    bob.send_presence(pto=ALICE, ptype="subscribe")
    await alice.next(is_("presence", type="subscribe", **{"from": BOB}),
                     "subscribe from bob")
    alice.send("<presence type='subscribed' to='%s'/>" % BOB)
    await until(lambda: ALICE in bob.client_roster and
                bob.client_roster[ALICE]["subscription"] == "both",
                "alice to be 'both' in bob's roster")

    # Presence both ways.
    got = asyncio.Queue()
    # slixmpp names an available presence by its <show/>.
    for ev in ("presence_available", "presence_chat"):
        bob.add_event_handler(
            ev, lambda p: got.put_nowait(p) if p["from"].bare == ALICE
            and p["show"] == "chat" else None)
    alice.send("<presence><show>chat</show><status xml:lang='fr'>en "
               "binaire \u263a</status><priority>5</priority></presence>")
    p = await asyncio.wait_for(got.get(), WAIT)
    assert str(p["from"]) == ALICE + "/bin"
    assert p["show"] == "chat" and p["priority"] == 5
    status = p.xml.find(q(NS_CLIENT, "status"))
    assert status.text == "en binaire \u263a"
    assert status.get(q(NS_XML, "lang")) == "fr"
    bob.send_presence(pshow="away", pstatus="in XML")
    el = await alice.next(is_("presence", **{"from": BOB + "/xml"}),
                          "bob's presence")
    assert el.findtext(q(NS_CLIENT, "show")) == "away"
    assert el.findtext(q(NS_CLIENT, "status")) == "in XML"

    # Chat: binary -> XML, with an unknown extension.
    alice.send("<message to='%s' type='chat' id='m1'><body>hello &lt;&amp;"
               "&gt; \u263a</body><active xmlns='http://jabber.org/"
               "protocol/chatstates'/><x xmlns='urn:example:unknown' a='1'"
               " xmlns:p='urn:example:p' p:b='2'><y>deep</y></x></message>"
               % (BOB + "/xml"))
    msg = await bob.next_message()
    assert str(msg["from"]) == ALICE + "/bin"
    assert msg["body"] == "hello <&> \u263a"
    assert msg["id"] == "m1"
    x = msg.xml.find("{urn:example:unknown}x")
    assert x is not None, ET.tostring(msg.xml)
    assert x.get("a") == "1" and x.get("{urn:example:p}b") == "2"
    assert x.findtext("{urn:example:unknown}y") == "deep"
    assert msg.xml.find(
        "{http://jabber.org/protocol/chatstates}active") is not None

    # Chat: XML -> binary, with xml:lang, two lines and an extension.
    m = bob.make_message(mto=ALICE + "/bin", mbody="reply \u263a\nline 2",
                         mtype="chat")
    m["lang"] = "de"
    m["id"] = "5b7a23e0-7c4f-4c5e-9c9a-3f1e2d0b8a11"
    m.append(ET.fromstring("<request xmlns='urn:xmpp:receipts'/>"))
    m.send()
    el = await alice.next(is_("message", type="chat"), "bob's message")
    assert el.get("from") == BOB + "/xml"
    assert el.get("to") == ALICE + "/bin"
    assert el.get("id") == "5b7a23e0-7c4f-4c5e-9c9a-3f1e2d0b8a11"
    assert el.get(q(NS_XML, "lang")) == "de"
    assert el.findtext(q(NS_CLIENT, "body")) == "reply \u263a\nline 2"
    assert el.find("{urn:xmpp:receipts}request") is not None
    out, inb = await alice.bytes()
    assert out > 0 and inb > 0


def test_binary_client_chats_with_xml_client(make_server, binclient):
    srv = make_server(host_conf=HOST_CONF)
    run(chat_story(srv, srv.c2s_port, "negotiate"))


def test_dedicated_listener_binary_client(make_server, binclient):
    port = free_port()
    srv = make_server(host_conf=HOST_CONF,
                      extra_conf='listen c2s_bin "127.0.0.1:%d";' % port)
    run(chat_story(srv, port, "dedicated"))


def test_dedicated_listener_still_speaks_xml(make_server, binclient):
    port = free_port()
    srv = make_server(extra_conf='listen c2s_bin "127.0.0.1:%d";' % port)

    async def go():
        c = await BinClient.start(port, "alice", PASSWORDS[ALICE], "xml")
        assert c.wire == "xml"
        c.send("<iq type='get' id='p1' to='localhost'><ping "
               "xmlns='urn:xmpp:ping'/></iq>")
        await c.next(is_("iq", id="p1"), "ping answer")
        await c.close()
    run(go())


def test_dedicated_direct_tls_listener(make_server, binclient):
    """c2s_bin_tls: TLS first, then the first byte picks the codec."""
    port = free_port()
    srv = make_server(
        extra_conf='listen c2s_bin_tls "127.0.0.1:%d";' % port)

    async def go():
        for mode, wire in (("dedicated", "binary"), ("xml", "xml")):
            c = await BinClient.start(port, "alice", PASSWORDS[ALICE], mode,
                                      direct_tls=True)
            assert c.wire == wire
            c.send("<iq type='get' id='p1' to='localhost'><ping "
                   "xmlns='urn:xmpp:ping'/></iq>")
            await c.next(is_("iq", id="p1"), "ping answer")
            await c.close()
    run(go())


def post_sasl(s, user):
    """Log in on a raw stream up to the features after SASL."""
    s.open()
    s.starttls()
    s.open()
    r = s.auth_plain(user, PASSWORDS[user + "@localhost"])
    assert r.tag == q(NS_SASL, "success")
    return s.open()


def test_negotiation_refusals(make_server):
    srv = make_server()
    s = RawStream(srv.c2s_port)
    try:
        feats = post_sasl(s, "alice")
        b = feats.find(q(NS_BIN, "binary"))
        assert b is not None, "binary feature missing: " + s.transcript()
        d = b.find(q(NS_BIN, "dictionary"))
        assert d.get("version") == "1" and len(d.get("sha256")) == 64
        s.send("<select xmlns='%s' version='1' sha256='%s'/>"
               % (NS_BIN, "0" * 64))
        f = s.expect(q(NS_BIN, "failure"))
        assert f.find(q(NS_BIN, "unsupported-dictionary")) is not None
        s.send("<select xmlns='%s'/>" % NS_BIN)
        f = s.expect(q(NS_BIN, "failure"))
        assert f.find(q(NS_BIN, "bad-request")) is not None
        # The stream goes on in XML.
        r = s.bind("raw")
        assert r.get("type") == "result"
        assert r.find(q(NS_BIND, "bind")) is not None
    finally:
        s.close()


def test_binary_mode_disabled(make_server):
    srv = make_server(extra_conf="binary_mode no;")
    s = RawStream(srv.c2s_port)
    try:
        feats = post_sasl(s, "bob")
        assert feats.find(q(NS_BIN, "binary")) is None
        s.send("<select xmlns='%s' version='1' sha256='%s'/>"
               % (NS_BIN, "0" * 64))
        f = s.expect(q(NS_BIN, "failure"))
        assert f.find(q(NS_BIN, "not-allowed")) is not None
    finally:
        s.close()


def read_frames(sock, timeout=WAIT):
    """Frames (type, body) until the server closes; bounded."""
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    frames = []
    while data:
        t, n, shift, i = data[0], 0, 0, 1
        while True:
            b = data[i]
            n |= (b & 0x7f) << shift
            shift += 7
            i += 1
            if not b & 0x80:
                break
        frames.append((t, data[i:i + n]))
        data = data[i + n:]
    return frames


def test_malformed_frame_is_stream_error(make_server):
    port = free_port()
    srv = make_server(extra_conf='listen c2s_bin "127.0.0.1:%d";' % port)
    with socket.create_connection(("127.0.0.1", port), WAIT) as sock:
        # A HEADER frame whose body ends inside the dictionary hash.
        sock.sendall(b"\x02\x03\x00\x01\x00")
        frames = read_frames(sock)
    assert [t for t, _ in frames] == [2, 5, 4], frames
    assert b"string runs past" in frames[1][1]
    srv.wait_log("bad-format")
