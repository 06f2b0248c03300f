"""Offline messages (XEP-0160) with XEP-0203 delay stamps, across a
restart of ternd, and the per-user quota."""

import asyncio
import datetime

from conftest import PASSWORDS
from ternlib import Clients, WAIT, run

ALICE = "alice@localhost"
BOB = "bob@localhost"
NS_DELAY = "urn:xmpp:delay"


async def no_message(c, timeout=0.5):
    """Nothing more arrives for c (after a round trip to the server)."""
    await c.barrier()
    try:
        m = await asyncio.wait_for(c.inbox.get(), timeout)
    except asyncio.TimeoutError:
        return
    raise AssertionError("unexpected message %s" % m)


def test_offline_messages_survive_restart(make_server):
    srv = make_server(host_conf="modules offline;")
    before = datetime.datetime.now(datetime.timezone.utc).replace(
        microsecond=0)

    async def send():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE + "/a", PASSWORDS[ALICE])
            for i in range(3):
                a.send_message(mto=BOB, mbody="offline %d" % i,
                               mtype="chat")
            await a.barrier()
            # Stored, so no error came back.
            assert a.error_inbox.empty()

    async def receive():
        async with Clients(srv) as cs:
            b = await cs.login(BOB + "/b", PASSWORDS[BOB],
                               plugins=("xep_0203",))
            got = [await b.next_message() for _ in range(3)]
            assert [m["body"] for m in got] == [
                "offline %d" % i for i in range(3)]
            for m in got:
                assert m["from"] == ALICE + "/a"
                assert m["type"] == "chat"
                d = m.xml.find("{%s}delay" % NS_DELAY)
                assert d is not None, m
                assert d.get("from") == "localhost"
                assert d.get("stamp").endswith("Z"), d.get("stamp")
                stamp = m["delay"]["stamp"]
                assert before <= stamp <= before + datetime.timedelta(
                    minutes=5), stamp
            await no_message(b)

    async def again():
        # Delivered once: a new session finds nothing.
        async with Clients(srv) as cs:
            b = await cs.login(BOB + "/c", PASSWORDS[BOB])
            await no_message(b)

    run(send())
    assert srv.stop() == []
    srv.start()
    run(receive())
    run(again())


def test_offline_quota(make_server):
    srv = make_server(host_conf="modules offline; offline_max_messages 2;")

    async def go():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE + "/a", PASSWORDS[ALICE])
            for i in range(3):
                a.send_message(mto=BOB, mbody="q%d" % i, mtype="chat")
            e = await a.next_error()
            assert e["error"]["condition"] == "service-unavailable"
            assert "full" in e["error"]["text"], e
            assert e["from"] == BOB
            await a.barrier()
            assert a.error_inbox.empty()
            b = await cs.login(BOB + "/b", PASSWORDS[BOB])
            got = [await b.next_message() for _ in range(2)]
            assert [m["body"] for m in got] == ["q0", "q1"]
            await no_message(b)
    run(go())


def test_online_messages_are_not_delayed(make_server):
    srv = make_server(host_conf="modules offline;")

    async def go():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE + "/a", PASSWORDS[ALICE])
            b = await cs.login(BOB + "/b", PASSWORDS[BOB])
            a.send_message(mto=BOB, mbody="live", mtype="chat")
            m = await b.next_message()
            assert m["body"] == "live"
            assert m.xml.find("{%s}delay" % NS_DELAY) is None
    run(go())


def test_headline_is_not_stored(make_server):
    srv = make_server(host_conf="modules offline;")

    async def go():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE + "/a", PASSWORDS[ALICE])
            a.send_message(mto=BOB, mbody="news", mtype="headline")
            a.send_message(mto=BOB, mbody="kept", mtype="normal")
            await a.barrier()
            assert a.error_inbox.empty()
            b = await cs.login(BOB + "/b", PASSWORDS[BOB])
            m = await b.next_message()
            assert m["body"] == "kept"
            await no_message(b)
    run(go())


def test_large_store_delivered_in_bursts(make_server):
    """offline_burst paces delivery; order holds across bursts, and a
    server stopped in the middle keeps the rest: nothing is lost."""
    srv = make_server(host_conf="modules offline; offline_burst 4k;")
    filler = "z" * 900
    got = []

    async def send():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE + "/a", PASSWORDS[ALICE])
            for i in range(12):
                a.send_message(mto=BOB, mbody="%02d %s" % (i, filler),
                               mtype="chat")
            await a.barrier()
            assert a.error_inbox.empty()

    async def until_silent(b):
        while True:
            try:
                m = await b.next_message(3)
            except AssertionError:
                return
            got.append(int(m["body"][:2]))

    async def first():
        async with Clients(srv) as cs:
            b = await cs.login(BOB + "/b", PASSWORDS[BOB])
            for _ in range(3):
                m = await b.next_message()
                got.append(int(m["body"][:2]))
            # Stopped while bursts are pending, the client connected.
            assert srv.stop() == []
            # What was sent before the stop is read before "gone".
            assert await b.wait_gone(WAIT)
            await asyncio.sleep(0.2)
            while not b.inbox.empty():
                got.append(int(b.inbox.get_nowait()["body"][:2]))
        assert len(got) < 12, "no burst was pending: %r" % got

    async def rest():
        async with Clients(srv) as cs:
            b = await cs.login(BOB + "/b", PASSWORDS[BOB])
            await until_silent(b)

    run(send())
    run(first())
    srv.start()
    run(rest())
    assert got == list(range(12)), got
