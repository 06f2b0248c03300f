"""tools/tern-conv (man/tern-conv.1): XML -> binary -> XML gives the same
stanzas, truncated or malformed input fails with a reason, and -D prints
the dictionary hash the server offers.  TERN_CONV overrides the path
(default: tern-conv beside TERNCTL)."""

import os
import subprocess
import xml.etree.ElementTree as ET

import pytest

import ternlib
from ternlib import RawStream, q

TERN_CONV = os.environ.get("TERN_CONV", os.path.join(
    os.path.dirname(os.path.abspath(ternlib.TERNCTL)), "tern-conv"))
NS_BIN = "http://tern.im/protocol/binary/0"

STREAM = (
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' to='example.org' "
    "version='1.0' xml:lang='en'>"
    "<message to='juliet@example.org/balcony' from='romeo@example.org/"
    "orchard' type='chat' id='5b7a23e0-7c4f-4c5e-9c9a-3f1e2d0b8a11'>"
    "<body>Wherefore &amp; why \u263a</body><active xmlns='http://jabber."
    "org/protocol/chatstates'/><x xmlns='urn:example:unknown' a='1'/>"
    "</message><iq type='get' id='r1'><query xmlns='jabber:iq:roster'/>"
    "</iq><presence xml:lang='fr'><status>l\u00e0</status></presence>"
    "</stream:stream>")


def conv(*args, data=b""):
    if not os.access(TERN_CONV, os.X_OK):
        pytest.fail("%s not built" % TERN_CONV, pytrace=False)
    return subprocess.run([TERN_CONV] + list(args), input=data,
                          capture_output=True, timeout=30)


def stanzas(xml_text):
    """The stream's children, canonicalised."""
    body = xml_text[xml_text.index(">", xml_text.index("<stream:stream"))
                    + 1:]
    root = ET.fromstring("<stream:stream xmlns='jabber:client' xmlns:stream="
                         "'http://etherx.jabber.org/streams'>" + body)
    for el in root:
        el.tail = None
    return [ET.tostring(el) for el in root]


def test_round_trip_and_size():
    b = conv("-b", data=STREAM.encode())
    assert b.returncode == 0, b.stderr
    assert b.stdout[0] == 2 and len(b.stdout) < len(STREAM.encode()) / 2
    x = conv(data=b.stdout)             # direction from the first byte
    assert x.returncode == 0, x.stderr
    assert stanzas(x.stdout.decode()) == stanzas(STREAM)


def test_inspect_lists_frames():
    b = conv("-b", data=STREAM.encode()).stdout
    out = conv("-x", "-i", data=b).stdout.decode().splitlines()
    assert [line.split()[0] for line in out] == [
        "HEADER", "STANZA", "STANZA", "STANZA", "CLOSE"]
    assert "<body>Wherefore &amp; why \u263a</body>" in out[1]


def test_stanza_mode():
    s = conv("-s", "-b", "-d", "example.org",
             data=b"<message to='a@example.org'/><iq type='get' id='1'/>")
    assert s.returncode == 0, s.stderr
    x = conv("-s", "-x", "-d", "example.org", data=s.stdout)
    assert x.stdout.decode().splitlines() == [
        "<message to='a@example.org'/>", "<iq type='get' id='1'/>"]
    # The stream domain token needs -d.
    x = conv("-s", "-x", data=s.stdout)
    assert x.returncode == 1 and b"stream domain" in x.stderr


def test_bad_input_fails_with_reason():
    b = conv("-b", data=STREAM.encode()).stdout
    r = conv("-x", data=b[:-5])
    assert r.returncode == 1 and b"truncated" in r.stderr
    r = conv("-x", data=b"\x02\x01\x07")
    assert r.returncode == 1 and b"bad-format" in r.stderr
    r = conv("-s", "-b", data=b"<a><b>")
    assert r.returncode == 1 and r.stderr
    r = conv("-b", data=b"<stream:stream xmlns='jabber:client' "
             b"xmlns:stream='http://etherx.jabber.org/streams'>"
             b"<?pi data?>")
    assert r.returncode == 1 and b"restricted-xml" in r.stderr
    assert conv("-q").returncode == 2


def test_dictionary_hash_is_the_servers(make_server):
    out = conv("-D").stdout.decode().split()
    assert out[0] == "dictionary" and out[2] == "sha256"
    srv = make_server()
    s = RawStream(srv.c2s_port)
    try:
        s.open()
        s.starttls()
        s.open()
        r = s.auth_plain("alice", "alice-secret-1")
        assert r.tag == q(ternlib.NS_SASL, "success")
        d = s.open().find("%s/%s" % (q(NS_BIN, "binary"),
                                     q(NS_BIN, "dictionary")))
        assert (d.get("version"), d.get("sha256")) == (out[1], out[3])
    finally:
        s.close()
