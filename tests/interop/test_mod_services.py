"""The server's own services, seen by slixmpp: service discovery and entity
capabilities (XEP-0030, XEP-0115), software version (XEP-0092), entity
time (XEP-0202), last activity (XEP-0012) and ping (XEP-0199), including
the pings the server sends to idle clients."""

import asyncio
import datetime
import platform
import re
import time

from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from conftest import PASSWORDS
from ternlib import (Clients, DOMAIN, IqError, IqTimeout, NS_CLIENT,
                     NS_PING, RawStream, WAIT, q, run, stanza_error)

ALICE = "alice@localhost"
BOB = "bob@localhost"
MODULES = "modules disco ping version time last;"
NS_INFO = "http://jabber.org/protocol/disco#info"
NS_ITEMS = "http://jabber.org/protocol/disco#items"
NS_CAPS = "http://jabber.org/protocol/caps"
CAPS_NODE = "https://tern.example/caps"
SERVICE_FEATURES = {NS_INFO, NS_ITEMS, NS_PING, "jabber:iq:version",
                    "urn:xmpp:time", "jabber:iq:last"}


async def iq_error(coro):
    """Await an iq, expect an error; return (type, condition)."""
    try:
        r = await coro
    except IqError as e:
        return e.iq["error"]["type"], e.iq["error"]["condition"]
    except IqTimeout:
        raise AssertionError("no reply within %ss" % WAIT)
    raise AssertionError("expected an error, got %s" % r)


def services(make_server, extra=""):
    return make_server(host_conf=MODULES + extra)


# -- XEP-0030 / XEP-0115 ----------------------------------------------


def test_disco_info_of_the_server(make_server):
    srv = services(make_server)

    async def go():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE, PASSWORDS[ALICE],
                               plugins=["xep_0030"])
            iq = await a["xep_0030"].get_info(jid=DOMAIN, timeout=WAIT)
            info = iq["disco_info"]
            assert iq["from"] == DOMAIN
            assert set(info["identities"]) == {("server", "im", None, "tern")}
            assert set(info["features"]) == SERVICE_FEATURES
            assert len(info["features"]) == len(SERVICE_FEATURES)
            cond = await iq_error(a["xep_0030"].get_info(
                jid=DOMAIN, node="no-such-node", timeout=WAIT))
            assert cond == ("cancel", "item-not-found")
    run(go())


def test_disco_lists_only_enabled_modules(make_server):
    srv = make_server(host_conf="modules disco time;")

    async def go():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE, PASSWORDS[ALICE],
                               plugins=["xep_0030"])
            iq = await a["xep_0030"].get_info(jid=DOMAIN, timeout=WAIT)
            assert set(iq["disco_info"]["features"]) == {
                NS_INFO, NS_ITEMS, "urn:xmpp:time"}
    run(go())


def test_disco_items_of_the_server(make_server):
    srv = services(make_server)

    async def go():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE, PASSWORDS[ALICE],
                               plugins=["xep_0030"])
            iq = await a["xep_0030"].get_items(jid=DOMAIN, timeout=WAIT)
            assert iq["type"] == "result"
            assert list(iq["disco_items"]["items"]) == []
            cond = await iq_error(a["xep_0030"].get_items(
                jid=DOMAIN, node="no-such-node", timeout=WAIT))
            assert cond == ("cancel", "item-not-found")
    run(go())


def test_disco_info_of_accounts(make_server):
    srv = services(make_server)

    async def go():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE, PASSWORDS[ALICE],
                               plugins=["xep_0030"])
            for jid in (BOB, ALICE):
                iq = await a["xep_0030"].get_info(jid=jid, timeout=WAIT)
                info = iq["disco_info"]
                assert iq["from"] == jid
                assert set(info["identities"]) == {
                    ("account", "registered", None, None)}
                assert set(info["features"]) == {
                    NS_INFO, NS_ITEMS, "jabber:iq:last"}
                iq = await a["xep_0030"].get_items(jid=jid, timeout=WAIT)
                assert list(iq["disco_items"]["items"]) == []
            cond = await iq_error(a["xep_0030"].get_info(
                jid="nobody@" + DOMAIN, timeout=WAIT))
            assert cond == ("cancel", "service-unavailable")
    run(go())


def caps_of(features):
    c = features.find(q(NS_CAPS, "c"))
    assert c is not None, "no caps in the stream features"
    assert c.get("hash") == "sha-1"
    assert c.get("node") == CAPS_NODE
    return c.get("ver")


def test_caps_in_stream_features_verify(make_server):
    """XEP-0115: the ver in the features is the hash of the disco#info
    that NODE#VER answers, as slixmpp computes it."""
    srv = services(make_server)
    s = RawStream(srv.c2s_port)
    try:
        s.open()
        s.starttls()
        before_auth = caps_of(s.open())
        r = s.auth_plain("alice", PASSWORDS[ALICE])
        assert r.tag.endswith("success"), s.transcript()
        after_auth = caps_of(s.open())
    finally:
        s.close()
    assert before_auth == after_auth

    async def go():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE, PASSWORDS[ALICE],
                               plugins=["xep_0030", "xep_0115"])
            iq = await a["xep_0030"].get_info(
                jid=DOMAIN, node="%s#%s" % (CAPS_NODE, before_auth),
                timeout=WAIT)
            info = iq["disco_info"]
            assert info["node"] == "%s#%s" % (CAPS_NODE, before_auth)
            assert a["xep_0115"].generate_verstring(info, "sha-1") == \
                before_auth
            # slixmpp itself checked the stream feature on login.
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline:
                ver = await a["xep_0115"].get_verstring(DOMAIN)
                if ver:
                    break
                await asyncio.sleep(0.05)
            assert ver == before_auth
    run(go())


# -- XEP-0092 ---------------------------------------------------------


def test_version(make_server):
    srv = services(make_server)

    async def go():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE, PASSWORDS[ALICE],
                               plugins=["xep_0092"])
            iq = await a["xep_0092"].get_version(DOMAIN, timeout=WAIT)
            v = iq["software_version"]
            assert v["name"] == "tern"
            assert v["version"]
            assert v["os"] == platform.system()
    run(go())


def test_version_hide_os(make_server):
    srv = services(make_server, " version_hide_os yes;")

    async def go():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE, PASSWORDS[ALICE],
                               plugins=["xep_0092"])
            iq = await a["xep_0092"].get_version(DOMAIN, timeout=WAIT)
            assert iq["software_version"]["name"] == "tern"
            assert iq.xml.find(".//{jabber:iq:version}os") is None
    run(go())


# -- XEP-0202 ---------------------------------------------------------


def test_entity_time(make_server):
    srv = services(make_server)

    async def go():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE, PASSWORDS[ALICE],
                               plugins=["xep_0202"])
            iq = await a["xep_0202"].get_entity_time(DOMAIN, timeout=WAIT)
            assert iq["type"] == "result" and iq["from"] == DOMAIN
            # XEP-0082 wants the 'Z'; slixmpp 1.8's ['utc'] accessor
            # appends one itself (SleekXMPP issue 412) and its ['tzo']
            # one cannot parse any offset, so read the text.
            raw = iq.xml.find("{urn:xmpp:time}time/{urn:xmpp:time}utc").text
            utc = datetime.datetime.strptime(raw, "%Y-%m-%dT%H:%M:%S%z")
            now = datetime.datetime.now(datetime.timezone.utc)
            assert abs((utc - now).total_seconds()) < 5, raw
            tzo = iq.xml.find("{urn:xmpp:time}time/{urn:xmpp:time}tzo").text
            assert re.fullmatch(r"[+-]\d\d:\d\d", tzo), tzo
    run(go())


# -- XEP-0012 ---------------------------------------------------------


def test_last_activity_of_the_server_is_uptime(make_server):
    srv = services(make_server)

    async def go():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE, PASSWORDS[ALICE],
                               plugins=["xep_0012"])
            iq = await a["xep_0012"].get_last_activity(DOMAIN,
                                                       timeout=WAIT)
            assert 0 <= iq["last_activity"]["seconds"] < 120
    run(go())


def test_last_activity_of_an_account(make_server):
    srv = services(make_server)

    async def go():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE + "/one", PASSWORDS[ALICE])
            a.send_presence(ptype="unavailable", pstatus="gone fishing")
            await a.barrier()
            await a.close()
            await asyncio.sleep(1.1)
            a2 = await cs.login(ALICE + "/two", PASSWORDS[ALICE],
                                plugins=["xep_0012"], presence=False)
            iq = await a2["xep_0012"].get_last_activity(ALICE,
                                                        timeout=WAIT)
            assert iq["last_activity"]["status"] == "gone fishing"
            assert 1 <= iq["last_activity"]["seconds"] < 60
            # Available now: 0.
            a2.send_presence()
            await a2.barrier()
            iq = await a2["xep_0012"].get_last_activity(ALICE,
                                                        timeout=WAIT)
            assert iq["last_activity"]["seconds"] == 0
            # Others may not ask (no presence subscription check yet).
            b = await cs.login(BOB, PASSWORDS[BOB], plugins=["xep_0012"])
            cond = await iq_error(b["xep_0012"].get_last_activity(
                ALICE, timeout=WAIT))
            assert cond == ("auth", "forbidden")
    run(go())


# -- XEP-0199 ---------------------------------------------------------


def test_ping_the_server(make_server):
    srv = services(make_server)

    async def go():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE, PASSWORDS[ALICE])
            iq = a.make_iq_get(ito=DOMAIN)
            iq.enable("ping")
            r = await iq.send(timeout=WAIT)
            assert r["type"] == "result"
            assert r["from"] == DOMAIN
            rtt = await a["xep_0199"].ping(DOMAIN, timeout=WAIT)
            assert rtt < WAIT
    run(go())


PINGING = "modules ping; ping_interval 2s; ping_timeout 2s;"


def test_idle_client_that_answers_pings_stays(make_server):
    srv = make_server(host_conf=PINGING)

    async def go():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE, PASSWORDS[ALICE])
            pings = []
            a.register_handler(Callback(
                "count pings",
                MatchXPath("{%s}iq/{%s}ping" % (NS_CLIENT, NS_PING)),
                lambda iq: pings.append(iq)))
            # slixmpp's xep_0199 answers each ping; nothing else is sent.
            await asyncio.sleep(7)
            assert pings, "the server never pinged an idle client"
            assert pings[0]["from"] == DOMAIN
            assert pings[0]["to"] == a.boundjid.full
            assert pings[0]["type"] == "get"
            assert not a.gone, "a client that answers pings was closed"
            assert a.stream_errors == []
            rtt = await a["xep_0199"].ping(DOMAIN, timeout=WAIT)
            assert rtt < WAIT
    run(go())


def test_idle_client_that_does_not_answer_is_closed(make_server):
    srv = make_server(host_conf=PINGING)
    s = RawStream(srv.c2s_port)
    try:
        jid = s.login("alice", PASSWORDS[ALICE], resource="mute")
        ping = s.next(timeout=WAIT)
        assert ping is not None and ping.tag == q(NS_CLIENT, "iq"), (
            s.transcript())
        assert ping.get("type") == "get"
        assert ping.get("from") == DOMAIN
        assert ping.get("to") == jid
        assert ping.get("id")
        assert ping.find(q(NS_PING, "ping")) is not None
        t0 = time.monotonic()
        assert s.stream_error(timeout=WAIT) == ["connection-timeout"]
        assert time.monotonic() - t0 >= 1.0
        assert s.wait_eof(WAIT)
    finally:
        s.close()
    assert srv.wait_log(r"stream error <connection-timeout/>: "
                        r"No answer to a ping")


def test_no_server_pings_by_default(make_server):
    srv = make_server(host_conf="modules ping;")
    s = RawStream(srv.c2s_port)
    try:
        s.login("alice", PASSWORDS[ALICE], resource="quiet")
        assert s.poll(4) is None, s.transcript()
        s.send("<iq type='get' id='p1' to='%s'><ping xmlns='%s'/></iq>"
               % (DOMAIN, NS_PING))
        r = s.next()
        assert r.get("type") == "result" and r.get("id") == "p1"
        assert stanza_error(r) is None
    finally:
        s.close()
