"""Rosters and presence (RFC 6121 sections 2 to 4) with slixmpp clients:
roster CRUD with pushes to two resources, versioning and errors, the
subscription handshake both ways with both rosters checked, pending
requests delivered at login, pre-approval, presence broadcast on login
and logout, and probe answers for a contact who logs in later."""

import asyncio
import time
import xml.etree.ElementTree as ET

import pytest

from conftest import PASSWORDS
from ternlib import Clients, IqError, IqTimeout, WAIT, run

ALICE = "alice@localhost"
BOB = "bob@localhost"
NS_ROSTER = "jabber:iq:roster"
HOST_CONF = "modules roster presence;"
# slixmpp names available presence by its <show/>.
AVAILABLE = ("available", "away", "chat", "dnd", "xa")


@pytest.fixture
def srv(make_server):
    return make_server(host_conf=HOST_CONF)


class Events:
    """Every occurrence of a slixmpp event, queued, with bounded waits."""

    def __init__(self, client, name):
        self.name = name
        self.client = client
        self.queue = asyncio.Queue()
        client.add_event_handler(name, self.queue.put_nowait)

    async def next(self, pred=lambda x: True, timeout=WAIT):
        """The next occurrence for which pred holds (others are dropped)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                x = await asyncio.wait_for(self.queue.get(), max(left, 0))
            except asyncio.TimeoutError:
                raise AssertionError("%s: no %s within %ss" % (
                    self.client.boundjid, self.name, timeout))
            if pred(x):
                return x

    async def none(self, pred=lambda x: True, timeout=0.5):
        """No occurrence for which pred holds (after a round trip)."""
        await self.client.barrier()
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                x = await asyncio.wait_for(self.queue.get(), left)
            except asyncio.TimeoutError:
                return
            assert not pred(x), "unexpected %s: %s" % (self.name, x)


async def until(cond, what, timeout=WAIT):
    """Wait until cond() holds, polling; bounded."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        await asyncio.sleep(0.05)


def available_from(bare):
    return lambda p: p["type"] in AVAILABLE and p["from"].bare == bare


def unavailable_from(bare):
    return lambda p: p["type"] == "unavailable" and p["from"].bare == bare


def manual(c):
    """Answer no subscription request by itself (slixmpp's default is to
    approve and subscribe back)."""
    c.roster.auto_authorize = None
    c.roster.auto_subscribe = False
    return c


async def login(cs, jid, roster=True, before=None, **kw):
    """A logged-in client with manual subscriptions; before(c) runs
    before the stream starts (to register event handlers)."""
    bare = jid.split("/")[0]
    c = manual(cs.client(jid, PASSWORDS[bare]))
    if before is not None:
        before(c)
    await c.start(cs.server.c2s_port, **kw)
    if roster:
        await c.get_roster(timeout=WAIT)
    return c


def item(c, jid):
    """(subscription, pending_out) of jid in c's roster, or None."""
    if jid not in c.client_roster:
        return None
    it = c.client_roster[jid]
    return it["subscription"], it["pending_out"]


async def iq_error(iq):
    try:
        r = await iq.send(timeout=WAIT)
    except IqError as e:
        return e.iq["error"]["condition"]
    except IqTimeout:
        raise AssertionError("no reply within %ss to %s" % (WAIT, iq))
    raise AssertionError("expected an error, got %s" % r)


async def server_roster(c):
    """The items of c's roster as the server has them (no version)."""
    iq = c.make_iq_get()
    iq.append(ET.fromstring("<query xmlns='%s'/>" % NS_ROSTER))
    r = await iq.send(timeout=WAIT)
    return {jid: (it["subscription"], it["ask"] == "subscribe")
            for jid, it in r["roster"]["items"].items()}


def roster_set(c, item_xml):
    iq = c.make_iq_set()
    iq.append(ET.fromstring("<query xmlns='%s'>%s</query>"
                            % (NS_ROSTER, item_xml)))
    return iq


async def handshake(user, contact):
    """user subscribes to contact, who approves; both see the result."""
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


def test_roster_crud_pushed_to_two_resources(srv):
    async def go():
        async with Clients(srv) as cs:
            one = await login(cs, ALICE + "/one")
            two = await login(cs, ALICE + "/two")
            assert "rosterver" in one.features
            assert "preapproval" in one.features

            await one.update_roster(BOB, name="Bob", groups=["Friends"],
                                    timeout=WAIT)
            for c in (one, two):
                await until(lambda: BOB in c.client_roster and
                            c.client_roster[BOB]["name"] == "Bob",
                            "the push to %s" % c.boundjid)
                assert c.client_roster[BOB]["groups"] == ["Friends"]
                assert c.client_roster[BOB]["subscription"] == "none"

            await two.update_roster(BOB, name="Robert",
                                    groups=["Work", "Family"], timeout=WAIT)
            for c in (one, two):
                await until(lambda: c.client_roster[BOB]["name"] ==
                            "Robert", "the update at %s" % c.boundjid)
                assert sorted(c.client_roster[BOB]["groups"]) == [
                    "Family", "Work"]

            # A new resource reads the same roster.
            three = await login(cs, ALICE + "/three")
            assert three.client_roster[BOB]["name"] == "Robert"

            await one.del_roster_item(BOB)
            for c in (one, two, three):
                await until(lambda: BOB not in c.client_roster,
                            "the removal at %s" % c.boundjid)
    run(go())


def test_roster_versioning_and_errors(srv):
    async def go():
        async with Clients(srv) as cs:
            a = await login(cs, ALICE + "/a")
            v0 = a.client_roster.version
            await a.update_roster(BOB, name="B", timeout=WAIT)
            await until(lambda: a.client_roster.version != v0,
                        "the push's version")
            ver = a.client_roster.version
            # slixmpp asks with the version it holds: nothing new.
            r = await a.get_roster(timeout=WAIT)
            assert not r["roster"]["items"], r
            assert a.client_roster[BOB]["name"] == "B"
            # By hand: an empty result, without even a <query/>.
            iq = a.make_iq_get()
            iq.append(ET.fromstring("<query xmlns='%s' ver='%s'/>"
                                    % (NS_ROSTER, ver)))
            r = await iq.send(timeout=WAIT)
            assert r.xml.find("{%s}query" % NS_ROSTER) is None, r
            # Another version: the whole roster.
            iq = a.make_iq_get()
            iq.append(ET.fromstring("<query xmlns='%s' ver='old'/>"
                                    % NS_ROSTER))
            r = await iq.send(timeout=WAIT)
            assert r["roster"]["ver"] == ver
            assert BOB in r["roster"]["items"]

            assert await iq_error(roster_set(
                a, "<item jid='%s'/><item jid='x@localhost'/>" % BOB)) == \
                "bad-request"
            assert await iq_error(roster_set(
                a, "<item jid='%s'><group>G</group><group>G</group></item>"
                % BOB)) == "bad-request"
            assert await iq_error(roster_set(
                a, "<item jid='%s'><group/></item>" % BOB)) == \
                "not-acceptable"
            assert await iq_error(roster_set(
                a, "<item jid='nobody@localhost' subscription='remove'/>")) \
                == "item-not-found"
            iq = a.make_iq_get(ito=BOB)
            iq.enable("roster")
            assert await iq_error(iq) == "forbidden"
    run(go())


def test_subscription_handshake_both_ways(srv):
    async def go():
        async with Clients(srv) as cs:
            a = await login(cs, ALICE + "/a")
            b = await login(cs, BOB + "/b")
            asked = Events(b, "presence_subscribe")
            approved = Events(a, "presence_subscribed")
            online = Events(a, "presence")

            a.send_presence(pto=BOB, ptype="subscribe")
            await until(lambda: item(a, BOB) == ("none", True),
                        "alice's pending-out item")
            p = await asked.next()
            assert p["from"] == ALICE
            # Bob has no item for alice until he approves.
            assert ALICE not in await server_roster(b)

            b.send_presence(pto=ALICE, ptype="subscribed")
            p = await approved.next()
            assert p["from"] == BOB
            await until(lambda: item(a, BOB) == ("to", False),
                        "alice's 'to' item")
            await until(lambda: item(b, ALICE) == ("from", False),
                        "bob's 'from' item")
            # Alice now sees bob's presence.
            p = await online.next(available_from(BOB))
            assert p["from"] == b.boundjid.full

            # And the other way: both.
            await handshake(b, a)
            assert item(a, BOB) == ("both", False)
            assert item(b, ALICE) == ("both", False)

            # The server's rosters agree with the pushes.
            assert (await server_roster(a))[BOB] == ("both", False)
            assert (await server_roster(b))[ALICE] == ("both", False)

            # Removing the item cancels both subscriptions.
            gone = Events(b, "presence")
            await a.del_roster_item(BOB)
            await until(lambda: item(a, BOB) is None, "alice's removal")
            await until(lambda: item(b, ALICE) == ("none", False),
                        "bob's item back to none")
            p = await gone.next(unavailable_from(ALICE))
            assert p["from"] == a.boundjid.full
    run(go())


def test_pending_request_delivered_at_login(srv):
    async def go():
        async with Clients(srv) as cs:
            a = await login(cs, ALICE + "/a")
            a.send_presence(pto=BOB, ptype="subscribe")
            await until(lambda: item(a, BOB) == ("none", True),
                        "alice's pending-out item")
            holder = {}

            def watch(c):
                holder["asked"] = Events(c, "presence_subscribe")
            b = await login(cs, BOB + "/b", before=watch)
            p = await holder["asked"].next()
            assert p["from"] == ALICE
            b.send_presence(pto=ALICE, ptype="subscribed")
            await until(lambda: item(a, BOB) == ("to", False),
                        "alice's 'to' item")
    run(go())


def test_pre_approval(srv):
    async def go():
        async with Clients(srv) as cs:
            a = await login(cs, ALICE + "/a")
            b = await login(cs, BOB + "/b")
            asked = Events(b, "presence_subscribe")
            # Bob approves before alice asks (RFC 6121 3.4).
            b.send_presence(pto=ALICE, ptype="subscribed")
            await until(lambda: ALICE in b.client_roster,
                        "bob's pre-approved item")
            a.send_presence(pto=BOB, ptype="subscribe")
            await until(lambda: item(a, BOB) == ("to", False),
                        "alice's 'to' item")
            await until(lambda: item(b, ALICE) == ("from", False),
                        "bob's 'from' item")
            await asked.none()
    run(go())


def test_presence_broadcast_on_login_and_logout(srv):
    async def go():
        async with Clients(srv) as cs:
            a = await login(cs, ALICE + "/a")
            b = await login(cs, BOB + "/b")
            await handshake(a, b)       # alice gets bob's presence
            online = Events(a, "presence")
            offline = Events(a, "presence")

            # Logout: a clean close, then a dropped connection.
            await b.close()
            p = await offline.next(unavailable_from(BOB))
            assert p["from"] == BOB + "/b"
            b2 = await login(cs, BOB + "/b2", roster=False)
            p = await online.next(available_from(BOB))
            assert p["from"] == BOB + "/b2"
            b2.send_presence(pshow="away", pstatus="lunch")
            p = await online.next(available_from(BOB))
            assert p["show"] == "away" and p["status"] == "lunch"
            b2.kill()
            p = await offline.next(unavailable_from(BOB))
            assert p["from"] == BOB + "/b2"
    run(go())


def test_probe_answers_for_a_later_login(srv):
    async def go():
        async with Clients(srv) as cs:
            a = await login(cs, ALICE + "/a")
            b = await login(cs, BOB + "/b")
            await handshake(a, b)
            await handshake(b, a)
            b.send_presence(pshow="dnd", pstatus="busy")
            await b.barrier()
            await a.close()

            holder = {}

            def watch(c):
                holder["online"] = Events(c, "presence")
            a2 = await login(cs, ALICE + "/a2", before=watch)
            p = await holder["online"].next(available_from(BOB))
            assert p["from"] == BOB + "/b"
            assert p["show"] == "dnd" and p["status"] == "busy"
            # Bob, subscribed to alice, saw her come back.
            assert a2.client_roster[BOB]["subscription"] == "both"
    run(go())
