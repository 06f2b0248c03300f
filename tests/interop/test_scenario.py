"""Issue 3's 'done when', end to end with every module the quick start
enables: two accounts made with ternctl subscribe to each other, see
each other online and offline, get messages sent while offline after
ternd was killed with SIGKILL and restarted, and block each other."""

import asyncio
import signal

import pytest

from conftest import PASSWORDS
from ternlib import Clients, IqError, WAIT, run
from test_mod_roster_presence import (Events, available_from, handshake,
                                      item, login, server_roster,
                                      unavailable_from)

ALICE = "alice@localhost"
BOB = "bob@localhost"
ALL = ("modules roster presence offline disco ping version time last "
       "vcard private blocking register;")


@pytest.fixture
def srv(make_server):
    return make_server(host_conf=ALL)


def kill_and_restart(srv):
    srv.signal(signal.SIGKILL)
    assert srv.wait_exit(WAIT) == -signal.SIGKILL
    srv.start()


def test_two_accounts_whole_story(srv):
    async def part1():
        async with Clients(srv) as cs:
            a = await login(cs, ALICE + "/a")
            b = await login(cs, BOB + "/b")
            await handshake(a, b)
            await handshake(b, a)
            assert item(a, BOB) == ("both", False)
            assert item(b, ALICE) == ("both", False)
            # Online: each sees the other's presence.
            seen = Events(a, "presence_available")
            b.send_presence(pstatus="here")
            await seen.next(available_from(BOB))
            # Offline: bob leaves, alice is told.
            gone = Events(a, "presence_unavailable")
            b.disconnect()
            await gone.next(unavailable_from(BOB))
            # Messages to bob while he is offline are stored ...
            for i in range(3):
                a.send_message(mto=BOB, mbody="offline %d" % i,
                               mtype="chat")
            # ... and committed once the server answered a later iq.
            await a.barrier()
            a.disconnect()
    run(part1())
    kill_and_restart(srv)

    def plugins(c):
        c.register_plugin("xep_0191")
        c.register_plugin("xep_0203")

    async def part2():
        async with Clients(srv) as cs:
            b = await login(cs, BOB + "/b", before=plugins)
            got = [await b.next_message() for _ in range(3)]
            assert [m["body"] for m in got] == [
                "offline %d" % i for i in range(3)]
            for m in got:
                assert m["delay"]["stamp"] is not None
                assert m["from"].bare == ALICE
            # The subscriptions survived the SIGKILL.
            assert (await server_roster(b))[ALICE] == ("both", False)
            a = await login(cs, ALICE + "/a", before=plugins)
            assert (await server_roster(a))[BOB] == ("both", False)
            # Block each other: nothing gets through either way.
            await b["xep_0191"].block([ALICE], timeout=WAIT)
            a.send_message(mto=BOB + "/b", mbody="blocked?", mtype="chat")
            err = await a.error_inbox.get()
            assert err["error"]["condition"] == "service-unavailable"
            b.send_message(mto=ALICE, mbody="me neither", mtype="chat")
            err = await asyncio.wait_for(b.error_inbox.get(), WAIT)
            assert err["error"]["condition"] == "not-acceptable"
            assert ALICE in {str(j) for j in
                             (await b["xep_0191"].get_blocked(
                                 timeout=WAIT))["blocklist"]["items"]}
    run(part2())


def test_roster_change_survives_sigkill(srv):
    async def part1():
        async with Clients(srv) as cs:
            a = await login(cs, ALICE + "/a")
            await a.update_roster("carol@localhost", name="Carol",
                                  groups=["Friends"], timeout=WAIT)
            a.disconnect()
    run(part1())
    kill_and_restart(srv)

    async def part2():
        async with Clients(srv) as cs:
            a = await login(cs, ALICE + "/a")
            it = a.client_roster["carol@localhost"]
            assert it["name"] == "Carol"
            assert it["groups"] == ["Friends"]
    run(part2())
