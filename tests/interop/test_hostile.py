"""Hostile peers against a live ternd (issue 5).

Every test runs on the 'hostile' fixture: while mallory attacks, alice
and bob (slixmpp) keep chatting, and arena.verify(rss_mib) then asserts
that each of their messages arrived, that a new client still logs in,
and that ternd's peak RSS during the attack stayed within the stated
number of MiB of its RSS before it.  Each attack sends far more than
that bound, so a limit that stopped working would fail the test.
"""

import select
import socket
import threading
import time

import pytest

from conftest import HOSTILE_USERS
from ternlib import (DOMAIN, NS_CLIENT, NS_STANZA, RawStream, q,
                     stanza_error)

MALLORY = ("mallory", HOSTILE_USERS["mallory@localhost"])
CAROL = ("carol", HOSTILE_USERS["carol@localhost"])
HEADER = RawStream.HEADER % DOMAIN
HEADER_NO_DECL = HEADER.split("?>", 1)[1]
MiB = 1 << 20


def blast(s, data, chunk=64 * 1024, timeout=20):
    """Send data in chunks as fast as the server reads it, stopping once
    the server has said something (its stream error) or stopped reading
    and closed.  Returns the bytes sent."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    s.sock.settimeout(2)
    deadline = time.monotonic() + timeout
    sent = 0
    while sent < len(data) and time.monotonic() < deadline:
        r, _, _ = select.select([s.sock], [], [], 0)
        if r or (s.tls and s.sock.pending()):
            break
        try:
            s.sock.sendall(data[sent:sent + chunk])
        except (socket.timeout, OSError):
            break
        sent += chunk
    return min(sent, len(data))


def expect_stream_error(s, conds, text=None, timeout=10):
    """The stream ends with exactly this stream error (text: a part of
    its <text/>) and the server closes the connection."""
    got = s.stream_error(timeout)
    assert got == conds, (got, s.transcript())
    if text is not None:
        assert text in (s.error_text or ""), (s.error_text, s.transcript())
    assert s.wait_eof(timeout), ("connection still open after the "
                                 "stream error; " + s.transcript())


def attack(port, payload, conds, text=None, opened=True, login=None):
    """One hostile connection: open a stream (or log in as login), send
    payload, expect the stream error."""
    s = RawStream(port)
    try:
        if login is not None:
            s.login(*login)
        elif opened:
            s.open()
        blast(s, payload)
        expect_stream_error(s, conds, text)
        return s
    finally:
        s.close()


# ----------------------------------------------------------------------
# Restricted XML (RFC 6120 11.1): DTDs, entities, processing instructions


def billion_laughs(levels=10):
    ents = "<!ENTITY l0 'lol'>" + "".join(
        "<!ENTITY l%d '%s'>" % (i, ("&l%d;" % (i - 1)) * 10)
        for i in range(1, levels))
    return ("<?xml version='1.0'?><!DOCTYPE stream:stream [%s]>%s"
            "<message to='carol@localhost'><body>&l%d;</body></message>"
            % (ents, HEADER_NO_DECL, levels - 1))


def test_entity_expansion(hostile):
    """Billion laughs (10^9 'lol's if expanded): refused at the DOCTYPE,
    never expanded; so is a quadratic blow-up (one big entity used
    many times)."""
    arena = hostile()
    port = arena.server.c2s_port
    s = attack(port, billion_laughs(), ["restricted-xml"],
               "document type", opened=False)
    assert b"lollol" not in s.received
    quadratic = ("<?xml version='1.0'?><!DOCTYPE s [<!ENTITY a '%s'>]>%s"
                 "<message><body>%s</body></message>"
                 % ("a" * 50000, HEADER_NO_DECL, "&a;" * 50000))
    attack(port, quadratic, ["restricted-xml"], opened=False)
    # Without a DTD an entity reference is undefined: not expanded.
    attack(port, "<message><body>&l9;&lol;</body></message>",
           ["restricted-xml"])
    arena.verify(rss_mib=4)


def test_external_entities(hostile):
    """External entities and DTDs (XXE): refused, nothing fetched."""
    arena = hostile()
    port = arena.server.c2s_port
    for payload in (
            "<?xml version='1.0'?><!DOCTYPE stream:stream "
            "[<!ENTITY xxe SYSTEM 'file:///etc/passwd'>]>" + HEADER_NO_DECL
            + "<message><body>&xxe;</body></message>",
            "<?xml version='1.0'?><!DOCTYPE stream:stream SYSTEM "
            "'http://127.0.0.1:9/evil.dtd'>" + HEADER_NO_DECL,
            "<?xml version='1.0'?><!DOCTYPE stream:stream [<!ENTITY % p "
            "SYSTEM 'file:///etc/passwd'> %p;]>" + HEADER_NO_DECL):
        s = attack(port, payload, ["restricted-xml"], opened=False)
        assert b"root:" not in s.received, s.transcript()
    arena.verify(rss_mib=4)


def test_dtd(hostile):
    """A DOCTYPE before the stream header is restricted XML; one inside
    the stream is not even well-formed."""
    arena = hostile()
    port = arena.server.c2s_port
    attack(port, "<?xml version='1.0'?><!DOCTYPE stream:stream>"
           + HEADER_NO_DECL, ["restricted-xml"], "document type",
           opened=False)
    attack(port, "<!DOCTYPE x [<!ELEMENT x ANY>]><message/>",
           ["not-well-formed"])
    attack(port, "<!DOCTYPE x>", ["not-well-formed"], login=CAROL)
    arena.verify(rss_mib=4)


def test_processing_instructions(hostile):
    """PIs before the header, between stanzas and inside a stanza."""
    arena = hostile()
    port = arena.server.c2s_port
    attack(port, "<?xml version='1.0'?><?xml-stylesheet href='x'?>"
           + HEADER_NO_DECL, ["restricted-xml"], "processing instruction",
           opened=False)
    attack(port, "<?evil data?>", ["restricted-xml"],
           "processing instruction")
    attack(port, "<message to='carol@localhost'><body>a<?evil?>b</body>"
           "</message>", ["restricted-xml"], "processing instruction",
           login=MALLORY)
    arena.verify(rss_mib=4)


# ----------------------------------------------------------------------
# Limits


def test_stanza_over_limit(hostile):
    """max_stanza_size 64k: a 48 KiB message arrives, a 16 MiB one ends
    the stream with <policy-violation/> once 64 KiB have come in; the
    server never holds more than about the limit."""
    arena = hostile("max_stanza_size 64k;")
    port = arena.server.c2s_port
    s = RawStream(port)
    try:
        jid = s.login(*MALLORY, resource="big")
        body = "x" * (48 * 1024)
        s.send("<message to='%s' id='ok'><body>%s</body></message>"
               % (jid, body))
        el = s.expect(q(NS_CLIENT, "message"))
        assert el.findtext(q(NS_CLIENT, "body")) == body
        sent = blast(s, "<message to='%s' id='big'><body>%s</body>"
                     "</message>" % (jid, "y" * (16 * MiB)))
        expect_stream_error(s, ["policy-violation"], "max_stanza_size")
        assert sent < 16 * MiB, "the server read the whole stanza"
        assert b"id='big'" not in s.received
    finally:
        s.close()
    arena.verify(rss_mib=4)


def test_endless_text_node(hostile):
    """A text node that never ends (before and after authentication)."""
    arena = hostile()
    port = arena.server.c2s_port
    endless = "<message><body>" + "z" * (16 * MiB)
    attack(port, endless, ["policy-violation"], "max_stanza_size")
    attack(port, endless, ["policy-violation"], "max_stanza_size",
           login=MALLORY)
    # An attribute value or an element name that never ends, too.
    attack(port, "<message id='" + "v" * (16 * MiB), ["policy-violation"],
           "max_stanza_size")
    attack(port, "<" + "n" * (16 * MiB), ["policy-violation"],
           "max_stanza_size")
    arena.verify(rss_mib=4)


def test_deep_nesting(hostile):
    """10,000 nested elements (well within max_stanza_size): refused at
    max_depth."""
    arena = hostile()
    port = arena.server.c2s_port
    deep = "<message>" + "<a>" * 10000 + "</a>" * 10000 + "</message>"
    attack(port, deep, ["policy-violation"], "max_depth")
    attack(port, deep, ["policy-violation"], "max_depth", login=MALLORY)
    arena.verify(rss_mib=4)


def test_many_attributes(hostile):
    """100,000 attributes on one element: refused at max_stanza_size
    before the start tag even ends; 20,000 short attributes (or 15,000
    namespace declarations), which fit in the default 256 KiB, are
    refused at max_attrs; on the stream header too.

    Expat holds a start tag whole and parses it again on every read
    until it ends (its reparse deferral is off so that stanzas are never
    delayed): memory and time per attack grow with max_stanza_size
    (measured: 100,000 attributes in a 4 MiB limit cost 29 MiB and a
    second), so that limit must stay modest; at the default one
    attack costs about 4 MiB while it lasts."""
    arena = hostile()
    port = arena.server.c2s_port
    huge = " ".join("a%d='x'" % i for i in range(100000))
    attack(port, "<message %s/>" % huge, ["policy-violation"],
           "max_stanza_size", login=MALLORY)
    many = " ".join("a%d=''" % i for i in range(20000))
    assert len(many) < 200 * 1024
    attack(port, "<message %s/>" % many, ["policy-violation"],
           "max_attrs", login=MALLORY)
    nsdecls = " ".join("xmlns:p%d='u'" % i for i in range(15000))
    assert len(nsdecls) < 250 * 1024
    attack(port, "<message %s/>" % nsdecls, ["policy-violation"],
           "max_attrs")
    attack(port, HEADER[:-1] + " " + many + ">", ["policy-violation"],
           "max_attrs", opened=False)
    attack(port, HEADER[:-1] + " " + huge + ">", ["policy-violation"],
           "max_stanza_size", opened=False)
    # Expat's attribute tables for 20,000 attributes: about 4 MiB.
    arena.verify(rss_mib=8)


# ----------------------------------------------------------------------
# Encoding (RFC 6120 11.6) and characters XML forbids (XML 1.0 2.2)

INVALID_UTF8 = {
    "byte-ff": b"\xff",
    "byte-fe": b"\xfe",
    "lone-continuation": b"\x80",
    "bad-continuation": b"\xc3\x28",
    "overlong-slash": b"\xc0\xaf",
    "overlong-nul": b"\xc0\x80",
    "truncated-3": b"\xe2\x82",
    "above-10ffff": b"\xf4\x90\x80\x80",
    "five-byte": b"\xf8\x88\x80\x80\x80",
}

FORBIDDEN = {
    "U+0000": b"\x00",
    "U+0001": b"\x01",
    "U+0008": b"\x08",
    "U+000B": b"\x0b",
    "U+000C": b"\x0c",
    "U+001F": b"\x1f",
    "U+D800": "\ud800".encode("utf-8", "surrogatepass"),
    "U+DFFF": "\udfff".encode("utf-8", "surrogatepass"),
    "U+FFFE": b"\xef\xbf\xbe",
    "U+FFFF": b"\xef\xbf\xbf",
    "&#0;": b"&#0;",
    "&#x1F;": b"&#x1F;",
    "&#xD800;": b"&#xD800;",
    "&#xFFFE;": b"&#xFFFE;",
}


def bad_chars(arena, table, where):
    """Each bad sequence in a body text or an attribute value, before
    and after authentication: <not-well-formed/>, connection closed."""
    port = arena.server.c2s_port
    for name, bad in sorted(table.items()):
        if where == "text":
            payload = b"<message><body>a" + bad + b"b</body></message>"
        else:
            payload = b"<message id='a" + bad + b"b'/>"
        for login in (None, MALLORY):
            try:
                attack(port, payload, ["not-well-formed"], login=login)
            except AssertionError as e:
                raise AssertionError("%s in %s (%s): %s" % (
                    name, where, "in session" if login else "before auth",
                    e)) from None


@pytest.mark.parametrize("where", ["text", "attribute"])
def test_invalid_utf8(hostile, where):
    arena = hostile()
    bad_chars(arena, INVALID_UTF8, where)
    arena.verify(rss_mib=4)


@pytest.mark.parametrize("where", ["text", "attribute"])
def test_forbidden_code_points(hostile, where):
    arena = hostile()
    bad_chars(arena, FORBIDDEN, where)
    arena.verify(rss_mib=4)


def test_not_utf8_stream(hostile):
    """A stream in UTF-16 (with or without a byte order mark) or
    declared in another encoding: <unsupported-encoding/>."""
    arena = hostile()
    port = arena.server.c2s_port
    for payload in (HEADER.encode("utf-16"),        # with a BOM
                    HEADER.encode("utf-16-be"),
                    HEADER_NO_DECL.encode("utf-16-le"),
                    HEADER.replace("version='1.0'?>",
                                   "version='1.0' encoding='ISO-8859-1'?>",
                                   1).encode()):
        attack(port, payload, ["unsupported-encoding"], opened=False)
    arena.verify(rss_mib=4)
