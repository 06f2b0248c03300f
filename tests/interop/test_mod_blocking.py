"""Blocking Command (XEP-0191) with slixmpp's xep_0191 plugin: the
blocklist, pushes to the resources that asked for it, and enforcement in
both directions."""

import asyncio
import time

from conftest import PASSWORDS
from ternlib import Clients, IqError, IqTimeout, WAIT, run

ALICE = "alice@localhost"
BOB = "bob@localhost"
NS_BLOCKED = "urn:xmpp:blocking:errors"
PLUGINS = ("xep_0191",)


async def no_message(c, timeout=0.5):
    """Nothing more arrives for c (after a round trip to the server)."""
    await c.barrier()
    try:
        m = await asyncio.wait_for(c.inbox.get(), timeout)
    except asyncio.TimeoutError:
        return
    raise AssertionError("unexpected message %s" % m)


def pushes(c):
    """A queue of the blocking pushes c receives, as (kind, iq)."""
    q = asyncio.Queue()
    c.add_event_handler("blocked", lambda iq: q.put_nowait(("block", iq)))
    c.add_event_handler("unblocked",
                        lambda iq: q.put_nowait(("unblock", iq)))
    return q


async def next_push(q, timeout=WAIT):
    try:
        return await asyncio.wait_for(q.get(), timeout)
    except asyncio.TimeoutError:
        raise AssertionError("no blocking push within %ss" % timeout)


async def blocklist(c):
    try:
        r = await c["xep_0191"].get_blocked(timeout=WAIT)
    except (IqError, IqTimeout) as e:
        raise AssertionError("blocklist get failed: %r" % e)
    return {j.full for j in r["blocklist"]["items"]}


async def iq_error(fut):
    try:
        r = await fut
    except IqError as e:
        return e.iq["error"]["type"], e.iq["error"]["condition"]
    except IqTimeout:
        raise AssertionError("no answer within %ss" % WAIT)
    raise AssertionError("expected an error, got %s" % r)


def test_block_push_and_enforcement(make_server):
    srv = make_server(host_conf="modules blocking;")

    async def go():
        async with Clients(srv) as cs:
            a1 = await cs.login(ALICE + "/one", PASSWORDS[ALICE],
                                plugins=PLUGINS)
            a2 = await cs.login(ALICE + "/two", PASSWORDS[ALICE],
                                plugins=PLUGINS)
            a3 = await cs.login(ALICE + "/three", PASSWORDS[ALICE],
                                plugins=PLUGINS)
            b = await cs.login(BOB + "/b", PASSWORDS[BOB])
            q2, q3 = pushes(a2), pushes(a3)
            assert await blocklist(a1) == set()
            assert await blocklist(a2) == set()
            # a3 never asked for the blocklist: no pushes for it.

            await a1["xep_0191"].block(BOB, timeout=WAIT)
            kind, iq = await next_push(q2)
            assert kind == "block"
            assert {j.full for j in iq["block"]["items"]} == {BOB}
            assert iq["to"] == a2.boundjid.full
            assert await blocklist(a1) == {BOB}

            # Inbound: bob's message does not arrive, bob gets
            # service-unavailable as if alice were offline.
            b.send_message(mto=ALICE, mbody="let me in", mtype="chat")
            e = await b.next_error()
            assert e["error"]["condition"] == "service-unavailable"
            assert e.xml.find(".//{%s}blocked" % NS_BLOCKED) is None
            iq = b.make_iq_get(queryxmlns="jabber:iq:version",
                               ito=a1.boundjid.full)
            assert await iq_error(iq.send(timeout=WAIT)) == (
                "cancel", "service-unavailable")
            for c in (a1, a2):
                await no_message(c)

            # Outbound: alice gets not-acceptable with <blocked/>.
            a1.send_message(mto=BOB, mbody="hello?", mtype="chat")
            e = await a1.next_error()
            assert e["error"]["condition"] == "not-acceptable"
            assert e["error"]["type"] == "cancel"
            assert e.xml.find(".//{%s}blocked" % NS_BLOCKED) is not None
            await no_message(b)

            await a2["xep_0191"].unblock(BOB, timeout=WAIT)
            kind, iq = await next_push(q2)
            assert kind == "unblock"
            assert {j.full for j in iq["unblock"]["items"]} == {BOB}
            assert q3.empty()
            b.send_message(mto=a1.boundjid.full, mbody="thanks",
                           mtype="chat")
            m = await a1.next_message()
            assert m["body"] == "thanks"
    run(go())


def test_unblock_all_and_errors(make_server):
    srv = make_server(host_conf="modules blocking;")

    async def go():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE + "/a", PASSWORDS[ALICE],
                               plugins=PLUGINS)
            q = pushes(a)
            await blocklist(a)
            await a["xep_0191"].block(
                [BOB, "spam.example", "x@y.example/r"], timeout=WAIT)
            kind, iq = await next_push(q)
            assert kind == "block"
            assert await blocklist(a) == {BOB, "spam.example",
                                          "x@y.example/r"}
            await a["xep_0191"].unblock([], timeout=WAIT)
            kind, iq = await next_push(q)
            assert kind == "unblock"
            assert iq["unblock"]["items"] == set()
            assert await blocklist(a) == set()

            # An empty block is a bad request, a bad JID malformed.
            iq = a.make_iq_set()
            iq.enable("block")
            assert await iq_error(iq.send(timeout=WAIT)) == (
                "modify", "bad-request")
            iq = a.make_iq_set()
            iq["block"].xml.append(
                iq["block"].xml.makeelement(
                    "{urn:xmpp:blocking}item", {"jid": "a@b@c"}))
            assert await iq_error(iq.send(timeout=WAIT)) == (
                "modify", "jid-malformed")
            assert await blocklist(a) == set()
    run(go())


def test_blocklist_survives_restart(make_server):
    srv = make_server(host_conf="modules blocking;")

    async def block():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE + "/a", PASSWORDS[ALICE],
                               plugins=PLUGINS)
            await a["xep_0191"].block(BOB, timeout=WAIT)

    async def check():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE + "/a", PASSWORDS[ALICE],
                               plugins=PLUGINS)
            b = await cs.login(BOB + "/b", PASSWORDS[BOB])
            assert await blocklist(a) == {BOB}
            b.send_message(mto=ALICE, mbody="still?", mtype="chat")
            e = await b.next_error()
            assert e["error"]["condition"] == "service-unavailable"
            await no_message(a)

    run(block())
    assert srv.stop() == []
    srv.start()
    run(check())


def test_feature_advertised(make_server):
    srv = make_server(host_conf="modules blocking disco;")

    async def go():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE + "/a", PASSWORDS[ALICE],
                               plugins=("xep_0030",))
            try:
                info = await a["xep_0030"].get_info(jid="localhost",
                                                    timeout=WAIT)
            except IqError as e:
                # mod_disco is another module; without it there is
                # nothing to check here.
                assert e.iq["error"]["condition"] == \
                    "service-unavailable"
                return
            assert "urn:xmpp:blocking" in info["disco_info"]["features"]
    run(go())


class Presences:
    """The presence stanzas a client receives, with bounded waits."""

    def __init__(self, client):
        self.client = client
        self.queue = asyncio.Queue()
        client.add_event_handler("presence", self.queue.put_nowait)

    async def next(self, pred, what, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                p = await asyncio.wait_for(self.queue.get(), max(left, 0))
            except asyncio.TimeoutError:
                raise AssertionError("%s: no %s within %ss"
                                     % (self.client.boundjid, what, timeout))
            if pred(p):
                return p

    async def none(self, pred, what, timeout=0.5):
        await self.client.barrier()
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                p = await asyncio.wait_for(self.queue.get(), left)
            except asyncio.TimeoutError:
                return
            assert not pred(p), "%s: unexpected %s: %s" % (
                self.client.boundjid, what, p)


def from_(full, unavailable):
    def pred(p):
        return p["from"] == full and (p["type"] == "unavailable") == \
            unavailable and p["type"] not in (
                "subscribe", "subscribed", "unsubscribe", "unsubscribed",
                "probe", "error")
    return pred


async def subscribe(user, contact, seen):
    """user subscribes to contact, who approves; user then sees contact
    (seen: user's Presences)."""
    user.send_presence(pto=contact.boundjid.bare, ptype="subscribe")
    await contact.barrier()
    contact.send_presence(pto=user.boundjid.bare, ptype="subscribed")
    await seen.next(from_(contact.boundjid.full, False),
                    "presence of " + contact.boundjid.full)


def test_block_and_unblock_exchange_presence(make_server):
    srv = make_server(host_conf="modules blocking roster presence;")

    async def go():
        async with Clients(srv) as cs:
            a = cs.client(ALICE + "/a", PASSWORDS[ALICE], plugins=PLUGINS)
            b = cs.client(BOB + "/b", PASSWORDS[BOB])
            for c in (a, b):
                c.roster.auto_authorize = None
                c.roster.auto_subscribe = False
            pa, pb = Presences(a), Presences(b)
            await a.start(srv.c2s_port)
            await b.start(srv.c2s_port)
            await subscribe(a, b, pa)
            await subscribe(b, a, pb)

            await a["xep_0191"].block(BOB, timeout=WAIT)
            # XEP-0191 3.3: each sees the other go offline.
            await pb.next(from_(a.boundjid.full, True),
                          "unavailable from alice")
            await pa.next(from_(b.boundjid.full, True),
                          "unavailable from bob")
            # Presence does not cross the block.
            b.send_presence(pshow="away")
            a.send_presence(pshow="dnd")
            await pa.none(lambda p: p["from"].bare == BOB, "bob's presence")
            await pb.none(lambda p: p["from"].bare == ALICE,
                          "alice's presence")

            # 3.4: unblocking brings the current presence back.
            await a["xep_0191"].unblock(BOB, timeout=WAIT)
            p = await pb.next(from_(a.boundjid.full, False),
                              "alice's presence again")
            assert p["show"] == "dnd"
            p = await pa.next(from_(b.boundjid.full, False),
                              "bob's presence again")
            assert p["show"] == "away"
    run(go())
