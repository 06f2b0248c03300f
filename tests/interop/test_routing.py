"""Stanza routing between local accounts and the server's defaults
(RFC 6120 sections 8 and 10, RFC 6121 section 8)."""

import xml.etree.ElementTree as ET

import pytest
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from conftest import PASSWORDS
from ternlib import Clients, IqError, IqTimeout, NS_PING, WAIT, run

ALICE = "alice@localhost"
BOB = "bob@localhost"


async def pair(cs, b_plugins=()):
    a = await cs.login(ALICE + "/a", PASSWORDS[ALICE])
    b = await cs.login(BOB + "/b", PASSWORDS[BOB], plugins=b_plugins)
    return a, b


async def iq_error(iq):
    """Send iq, expect an error reply; return (type, condition, reply)."""
    try:
        r = await iq.send(timeout=WAIT)
    except IqError as e:
        return e.iq["error"]["type"], e.iq["error"]["condition"], e.iq
    except IqTimeout:
        raise AssertionError("no reply within %ss to %s" % (WAIT, iq))
    raise AssertionError("expected an error, got %s" % r)


@pytest.mark.parametrize("mtype", ["chat", "normal"])
def test_message_to_full_jid(server, mtype):
    async def go():
        async with Clients(server) as cs:
            a, b = await pair(cs)
            a.send_message(mto=b.boundjid.full, mbody="hi bob", mtype=mtype)
            m = await b.next_message()
            assert m["body"] == "hi bob"
            assert m["from"] == a.boundjid.full
            assert m["to"] == b.boundjid.full
            assert m["type"] == mtype
            b.send_message(mto=a.boundjid.full, mbody="hi alice",
                           mtype=mtype)
            m = await a.next_message()
            assert m["body"] == "hi alice"
            assert m["from"] == b.boundjid.full
    run(go())


def test_message_to_bare_jid(server):
    async def go():
        async with Clients(server) as cs:
            a, b = await pair(cs)
            a.send_message(mto=BOB, mbody="to your bare jid", mtype="chat")
            m = await b.next_message()
            assert m["body"] == "to your bare jid"
            assert m["from"] == a.boundjid.full
            b.send_message(mto=ALICE, mbody="and back", mtype="chat")
            m = await a.next_message()
            assert m["body"] == "and back"
            assert m["from"] == b.boundjid.full
    run(go())


def test_message_body_survives_intact(server):
    """Escaping, non-ASCII text and extension payloads pass unchanged."""
    body = "<b>&amp; 'quotes' \"dq\" \u00e9\u4e2d\U0001F600 ]]> \t end"

    async def go():
        async with Clients(server) as cs:
            a, b = await pair(cs)
            msg = a.make_message(mto=b.boundjid.full, mbody=body,
                                 mtype="chat")
            msg["id"] = "keep-this-id"
            msg.append(ET.fromstring("<x xmlns='urn:tern:test:ext' a='1'>"
                                     "<y>z</y></x>"))
            msg.send()
            m = await b.next_message()
            assert m["body"] == body
            assert m["id"] == "keep-this-id"
            ext = m.xml.find("{urn:tern:test:ext}x")
            assert ext is not None and ext.get("a") == "1"
            assert ext.findtext("{urn:tern:test:ext}y") == "z"
    run(go())


def test_ping_routed_to_full_jid(server):
    """iq to a full JID is routed to that client, which answers it."""
    async def go():
        async with Clients(server) as cs:
            a, b = await pair(cs, b_plugins=("xep_0199",))
            seen = []
            b.register_handler(Callback(
                "spy", MatchXPath("{jabber:client}iq/{%s}ping" % NS_PING),
                seen.append))
            iq = a.make_iq_get(ito=b.boundjid.full)
            iq.enable("ping")
            assert iq.xml.find("{%s}ping" % NS_PING) is not None
            try:
                r = await iq.send(timeout=WAIT)
            except IqError as e:
                raise AssertionError("ping failed: %s" % e.iq)
            assert r["type"] == "result"
            assert r["from"] == b.boundjid.full
            assert r["to"] == a.boundjid.full
            assert seen and seen[0]["from"] == a.boundjid.full, seen
    run(go())


@pytest.mark.parametrize("itype", ["get", "set"])
def test_iq_unknown_namespace_to_server(server, itype):
    async def go():
        async with Clients(server) as cs:
            a = await cs.login(ALICE, PASSWORDS[ALICE])
            iq = a.make_iq_get(queryxmlns="urn:tern:test:unknown",
                               ito="localhost")
            iq["type"] = itype
            etype, cond, r = await iq_error(iq)
            assert cond == "service-unavailable", str(r)
            assert etype == "cancel", str(r)
            assert r["from"] in ("localhost", ""), str(r)
            assert r["id"] == iq["id"]
    run(go())


def test_iq_unknown_namespace_to_bare_jid(server):
    """An iq to a bare JID is the server's to answer on the account's
    behalf, not the client's: service-unavailable, while Bob is online."""
    async def go():
        async with Clients(server) as cs:
            a, b = await pair(cs)
            got = []
            b.register_handler(Callback(
                "spy", MatchXPath("{jabber:client}iq/{urn:tern:test:unknown}"
                                  "query"), got.append))
            iq = a.make_iq_get(queryxmlns="urn:tern:test:unknown", ito=BOB)
            etype, cond, r = await iq_error(iq)
            assert cond == "service-unavailable", str(r)
            assert r["from"] == BOB, str(r)
            assert not got, "bare-JID iq was delivered to a resource"
    run(go())


@pytest.mark.parametrize("bob_online", [True, False],
                         ids=["other-resource-online", "account-offline"])
def test_iq_to_offline_full_jid(server, bob_online):
    async def go():
        async with Clients(server) as cs:
            a = await cs.login(ALICE, PASSWORDS[ALICE])
            if bob_online:
                await cs.login(BOB + "/here", PASSWORDS[BOB],
                               plugins=("xep_0199",))
            iq = a.make_iq_get(ito=BOB + "/not-here")
            iq.enable("ping")
            etype, cond, r = await iq_error(iq)
            assert cond == "service-unavailable", str(r)
            assert r["from"] == BOB + "/not-here", str(r)
    run(go())


def test_message_to_nonexistent_user(server):
    async def go():
        async with Clients(server) as cs:
            a = await cs.login(ALICE, PASSWORDS[ALICE])
            a.send_message(mto="nobody@localhost", mbody="anyone?",
                           mtype="chat")
            m = await a.next_error()
            assert m["type"] == "error"
            assert m["error"]["condition"] == "service-unavailable", str(m)
            assert m["from"].bare == "nobody@localhost", str(m)
    run(go())


@pytest.mark.parametrize("spoof", [
    "mallory@localhost/evil", "bob@localhost/b", "alice@localhost",
    "evil.example", "admin@evil.example/x"])
def test_spoofed_from_is_overwritten(server, spoof):
    async def go():
        async with Clients(server) as cs:
            a, b = await pair(cs)
            a.send_message(mto=b.boundjid.full, mbody="spoof " + spoof,
                           mtype="chat", mfrom=spoof)
            m = await b.next_message()
            assert m["body"] == "spoof " + spoof
            assert m["from"] == a.boundjid.full, (
                "from %s reached bob (sent as %s)" % (m["from"], spoof))
            # alice is still connected and chatting
            a.send_message(mto=b.boundjid.full, mbody="plain",
                           mtype="chat")
            m = await b.next_message()
            assert m["from"] == a.boundjid.full
    run(go())


def test_message_to_unknown_remote_domain(server):
    async def go():
        async with Clients(server) as cs:
            a = await cs.login(ALICE, PASSWORDS[ALICE])
            a.send_message(mto="someone@nonexistent.invalid",
                           mbody="hello out there", mtype="chat")
            m = await a.next_error(timeout=20)
            assert m["error"]["condition"] == "remote-server-not-found", (
                str(m))
            assert m["from"].bare == "someone@nonexistent.invalid", str(m)
    run(go())
