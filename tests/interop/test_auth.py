"""Stream negotiation and authentication: STARTTLS, direct TLS, SASL
(RFC 6120 sections 5 and 6), auth timeout."""

import asyncio
import base64
import time

import pytest

from conftest import PASSWORDS
from ternlib import (Clients, LoginFailed, RawStream, NS_SASL, NS_STREAM,
                     NS_TLS, NS_BIND, q, run)

ALICE = "alice@localhost"
BOB = "bob@localhost"


# Non-PLUS SCRAM runs as a client without channel binding (GS2 flag 'n');
# the -PLUS variants use slixmpp's channel binding (tls-unique).
MECHS = ["SCRAM-SHA-256", "SCRAM-SHA-1", "SCRAM-SHA-256-PLUS",
         "SCRAM-SHA-1-PLUS", "PLAIN"]


@pytest.mark.parametrize("mech", MECHS)
def test_login_starttls(server, mech):
    async def go():
        async with Clients(server) as cs:
            a = await cs.login(ALICE, PASSWORDS[ALICE], mech=mech)
            assert a.authenticated
            assert a["feature_mechanisms"].mech.name == mech
            assert a.boundjid.bare == ALICE
    run(go())


@pytest.mark.parametrize("mech", MECHS)
def test_login_direct_tls(server, mech):
    """XEP-0368: TLS from the first byte on the c2s_tls port."""
    async def go():
        async with Clients(server) as cs:
            a = await cs.login(ALICE, PASSWORDS[ALICE], mech=mech,
                               direct_tls=True)
            assert a["feature_mechanisms"].mech.name == mech
            assert a.boundjid.bare == ALICE
    run(go())


def test_login_default_mechanism(server):
    """slixmpp picks the mechanism itself, as a bot would out of the box
    (the best SCRAM, -PLUS when offered)."""
    async def go():
        async with Clients(server) as cs:
            a = await cs.login(ALICE, PASSWORDS[ALICE], mech=None)
            assert a.boundjid.bare == ALICE
            assert a["feature_mechanisms"].mech.name.startswith("SCRAM-")
    run(go())


@pytest.mark.parametrize("mech", ["SCRAM-SHA-256", "SCRAM-SHA-1"])
def test_scram_downgrade_detected(server, mech):
    """RFC 5802 section 6: a client with channel binding that picks a
    non-PLUS mechanism says so with the GS2 flag 'y'; a server that offers
    -PLUS must then fail the exchange (a stripped -PLUS offer)."""
    async def go():
        async with Clients(server) as cs:
            try:
                a = await cs.login(ALICE, PASSWORDS[ALICE], mech=mech,
                                   channel_binding=True)
            except LoginFailed as e:
                assert e.condition == "not-authorized", str(e)
                return
            raise AssertionError(
                "GS2 flag 'y' accepted; mechanisms offered: %r"
                % sorted(a["feature_mechanisms"].mech_list))
    run(go())


@pytest.mark.parametrize("mech", ["SCRAM-SHA-256", "SCRAM-SHA-1",
                                  "SCRAM-SHA-256-PLUS", "PLAIN"])
@pytest.mark.parametrize("who", ["wrong-password", "no-such-user"])
def test_bad_credentials_not_authorized(server, mech, who):
    """A wrong password and an unknown user look the same: not-authorized
    (no user enumeration)."""
    jid = ALICE if who == "wrong-password" else "nobody@localhost"

    async def go():
        async with Clients(server) as cs:
            with pytest.raises(LoginFailed) as e:
                await cs.login(jid, "not-the-password", mech=mech)
            assert e.value.condition == "not-authorized", str(e.value)
    run(go())


def test_stream_to_unknown_host(server):
    s = RawStream(server.tls_port, tls=True)
    try:
        s.send(RawStream.HEADER % "unknown.example")
        assert s.stream_error() == ["host-unknown"], s.transcript()
        assert s.wait_eof()
    finally:
        s.close()


def test_stream_without_version(server):
    s = RawStream(server.tls_port, tls=True)
    try:
        s.send("<?xml version='1.0'?><stream:stream to='localhost' "
               "xmlns='jabber:client' "
               "xmlns:stream='http://etherx.jabber.org/streams'>")
        assert s.stream_error() == ["unsupported-version"], s.transcript()
        assert s.wait_eof()
    finally:
        s.close()


def test_plaintext_auth_refused_before_starttls(server):
    """Before STARTTLS the server requires TLS and does not let <auth>
    succeed, even with the right password."""
    s = RawStream(server.c2s_port)
    try:
        feats = s.open()
        tls = feats.find(q(NS_TLS, "starttls"))
        assert tls is not None, "no <starttls/> feature; " + s.transcript()
        assert tls.find(q(NS_TLS, "required")) is not None, (
            "<starttls/> not marked <required/>; " + s.transcript())
        assert feats.find(q(NS_BIND, "bind")) is None
        blob = base64.b64encode(
            ("\0alice\0" + PASSWORDS[ALICE]).encode()).decode()
        s.send("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>"
               % (NS_SASL, blob))
        el = s.next()
        assert el is not None, (
            "stream closed without a failure or stream error; "
            + s.transcript())
        assert el.tag in (q(NS_SASL, "failure"), q(NS_STREAM, "error")), (
            "expected SASL failure or stream error, got %s; %s"
            % (el.tag, s.transcript()))
        # and never a success, whatever follows
        while not s.closed:
            el = s.poll(1.0)
            if el is None:
                break
            assert el.tag != q(NS_SASL, "success"), s.transcript()
    finally:
        s.close()


def test_starttls_then_mechanisms(server):
    """After STARTTLS: a fresh stream offers SASL (SCRAM-SHA-256,
    SCRAM-SHA-1, PLAIN) and no second STARTTLS."""
    s = RawStream(server.c2s_port)
    try:
        s.open()
        s.starttls()
        feats = s.open()
        assert feats.find(q(NS_TLS, "starttls")) is None, s.transcript()
        mechs = [m.text for m in feats.iter(q(NS_SASL, "mechanism"))]
        for m in ("SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"):
            assert m in mechs, "%s not offered: %r" % (m, mechs)
    finally:
        s.close()


def test_direct_tls_features(server):
    """On the direct TLS port: no STARTTLS, SASL offered."""
    s = RawStream(server.tls_port, tls=True)
    try:
        feats = s.open()
        assert feats.find(q(NS_TLS, "starttls")) is None, s.transcript()
        mechs = [m.text for m in feats.iter(q(NS_SASL, "mechanism"))]
        assert "SCRAM-SHA-256" in mechs and "PLAIN" in mechs, mechs
    finally:
        s.close()


def test_raw_plain_login_and_bind(server):
    s = RawStream(server.tls_port, tls=True)
    try:
        jid = s.login("alice", PASSWORDS[ALICE], resource="raw")
        assert jid == ALICE + "/raw"
    finally:
        s.close()


def test_plaintext_loopback_allowed(make_server):
    """allow_plaintext_loopback yes: a client on 127.0.0.1 may log in
    without TLS (SCRAM, since slixmpp will not send PLAIN in clear)."""
    srv = make_server("allow_plaintext_loopback yes;")

    async def go():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE, PASSWORDS[ALICE], mech="SCRAM-SHA-256",
                               force_starttls=False, disable_starttls=True)
            assert a.boundjid.bare == ALICE
            assert "starttls" not in a.features
            offered = a["feature_mechanisms"].mech_list
            assert "PLAIN" not in offered, (
                "PLAIN offered without TLS: %r" % sorted(offered))
    run(go())


def test_auth_timeout(make_server):
    """auth_timeout 2s: a connection that sends only a stream header is
    closed with <connection-timeout/> after about 2 s; a bound session
    lives on past it."""
    srv = make_server("auth_timeout 2s;")
    s = RawStream(srv.c2s_port)

    def idle_raw():
        t0 = time.monotonic()
        s.open()
        conds = s.stream_error(timeout=8)
        return conds, time.monotonic() - t0, s.wait_eof(5)

    async def go():
        loop = asyncio.get_running_loop()
        raw = loop.run_in_executor(None, idle_raw)
        async with Clients(srv) as cs:
            a = await cs.login(ALICE, PASSWORDS[ALICE])
            await asyncio.sleep(3.5)
            assert not a.gone, "bound session dropped: %r" % a.stream_errors
            await a.barrier()
        return await asyncio.wait_for(raw, 15)

    try:
        conds, elapsed, eof = run(go())
    finally:
        s.close()
    assert conds == ["connection-timeout"], conds
    assert elapsed >= 1.5, "closed after %.1fs, before auth_timeout" % elapsed
    assert eof, "connection not closed after the stream error"
