"""Hostile and broken input on the stream: malformed XML, restricted XML,
oversized stanzas (RFC 6120 section 4.9)."""

import pytest

from conftest import PASSWORDS
from ternlib import NS_CLIENT, RawStream, q

ALICE = "alice@localhost"

MALFORMED = {
    "tag-mismatch": "<message to='bob@localhost'><body>hi</mesage>",
    "duplicate-attribute": "<message to='a@localhost' to='b@localhost'/>",
    "empty-tag": "<>",
    "invalid-char": "<message><body>\x01</body></message>",
    "undefined-entity": "<message><body>&nosuch;</body></message>",
}


def still_serving(srv):
    """The server survived: a new client can log in."""
    s = RawStream(srv.tls_port, tls=True)
    try:
        assert s.login("alice", PASSWORDS[ALICE]).startswith(ALICE + "/")
    finally:
        s.close()


@pytest.mark.parametrize("when", ["before-auth", "after-bind"])
@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_malformed_xml_not_well_formed(server, kind, when):
    s = RawStream(server.tls_port, tls=True)
    try:
        if when == "before-auth":
            s.open()
        else:
            s.login("alice", PASSWORDS[ALICE])
        s.send(MALFORMED[kind])
        conds = s.stream_error()
        allowed = [["not-well-formed"]]
        if kind == "undefined-entity":
            # RFC 6120 11.1 also lists entity references as restricted XML
            allowed.append(["restricted-xml"])
        assert conds in allowed, (conds, s.transcript())
        assert s.wait_eof(), "connection not closed after the stream error"
    finally:
        s.close()
    still_serving(server)


RESTRICTED = {
    "processing-instruction": "<?tern-test evil?>",
    "comment": "<!-- no comments in XMPP -->",
}


@pytest.mark.parametrize("kind", sorted(RESTRICTED))
def test_restricted_xml_inside_stream(server, kind):
    """RFC 6120 11.1: comments and PIs are refused with <restricted-xml/>."""
    s = RawStream(server.tls_port, tls=True)
    try:
        s.open()
        s.send(RESTRICTED[kind])
        conds = s.stream_error()
        assert conds == ["restricted-xml"], (conds, s.transcript())
        assert s.wait_eof()
    finally:
        s.close()
    still_serving(server)


def test_dtd_refused(server):
    """A DOCTYPE with an internal subset (entity expansion bombs) is
    refused with <restricted-xml/> and never expanded."""
    s = RawStream(server.tls_port, tls=True)
    try:
        lol = "".join("<!ENTITY l%d '&l%d;&l%d;&l%d;&l%d;'>" % (
            i, i - 1, i - 1, i - 1, i - 1) for i in range(1, 12))
        s.send("<?xml version='1.0'?><!DOCTYPE stream:stream "
               "[<!ENTITY l0 'lol'>%s]>" % lol
               + RawStream.HEADER.split("?>", 1)[1] % "localhost"
               + "<message><body>&l11;</body></message>")
        conds = s.stream_error()
        assert conds == ["restricted-xml"], (conds, s.transcript())
        assert s.wait_eof()
        assert b"lollol" not in s.received
    finally:
        s.close()
    still_serving(server)


@pytest.mark.parametrize("shape", ["complete", "unterminated"])
def test_oversized_stanza_policy_violation(make_server, shape):
    """max_stanza_size 16k: a 12 KiB stanza passes, a 20 KiB one ends the
    stream with <policy-violation/>, even if it never ends."""
    srv = make_server("max_stanza_size 16k;")
    s = RawStream(srv.tls_port, tls=True)
    try:
        jid = s.login("alice", PASSWORDS[ALICE], "big")
        body = "x" * (12 * 1024)
        s.send("<message to='%s' type='chat' id='ok'><body>%s</body>"
               "</message>" % (jid, body))
        el = s.expect(q(NS_CLIENT, "message"))
        assert el.get("id") == "ok" and el.findtext(
            q(NS_CLIENT, "body")) == body, "12 KiB message not delivered"
        big = "<message to='%s' type='chat' id='big'><body>%s" % (
            jid, "y" * (20 * 1024))
        if shape == "complete":
            big += "</body></message>"
        s.send_slowly(big)
        conds = s.stream_error()
        assert conds == ["policy-violation"], (conds, s.transcript())
        assert s.wait_eof()
        assert b"id='big'" not in s.received and b'id="big"' not in \
            s.received, "oversized stanza was delivered"
    finally:
        s.close()
    still_serving(srv)


def test_oversized_stanza_before_auth(make_server):
    srv = make_server("max_stanza_size 16k;")
    s = RawStream(srv.c2s_port)
    try:
        s.open()
        s.send_slowly("<iq type='get' id='x'><query xmlns='urn:tern:test'>"
                      "%s</query></iq>" % ("z" * (20 * 1024)))
        conds = s.stream_error()
        assert conds == ["policy-violation"], (conds, s.transcript())
        assert s.wait_eof()
    finally:
        s.close()
    still_serving(srv)
