"""Minimal blocking XMPP client (standard library only) for bench/: checks
that a server under test answers, lists its SASL mechanisms, logs in over
plain TCP or STARTTLS with SCRAM-SHA-256, SCRAM-SHA-1 or PLAIN, binds, and
registers accounts in-band (XEP-0077).  It is a probe and a fallback, not a
load generator: tern-bench does the measuring.

Every read is bounded by the deadline given to the constructor."""

import base64
import hashlib
import hmac
import os
import socket
import ssl
import time
import xml.etree.ElementTree as ET

NS_STREAM = "http://etherx.jabber.org/streams"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_REG = "jabber:iq:register"
NS_CLIENT = "jabber:client"


class XMPPError(Exception):
    pass


def q(ns, name):
    return "{%s}%s" % (ns, name)


class Stream:
    """One client stream.  Elements arrive through an incremental parser;
    next() returns each top-level child of <stream:stream> in turn."""

    def __init__(self, port, host="127.0.0.1", domain="localhost",
                 timeout=10.0):
        self.domain = domain
        self.deadline = time.monotonic() + timeout
        self.sock = socket.create_connection((host, port), timeout)
        self.features = None
        self.tls = False
        self._new_parser()

    def _new_parser(self):
        self.parser = ET.XMLPullParser(events=("start", "end"))
        self.depth = 0
        self.queue = []

    def close(self, wait=2.0):
        """Close politely: send </stream:stream> and wait (bounded) for
        the server to close its side.  (Prosody 0.12.3 with
        opportunistic_writes spins at 100% CPU on a TLS stream whose
        client closes the socket right after its closing tag.)"""
        try:
            self.sock.sendall(b"</stream:stream>")
            end = time.monotonic() + wait
            while time.monotonic() < end:
                self.sock.settimeout(max(0.01, end - time.monotonic()))
                if not self.sock.recv(65536):
                    break
        except (OSError, ValueError):
            pass
        self.sock.close()

    def send(self, text):
        self.sock.sendall(text.encode())

    def _left(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise XMPPError("timed out")
        return left

    def next(self):
        while not self.queue:
            self.sock.settimeout(self._left())
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                raise XMPPError("timed out waiting for the server")
            if not data:
                raise XMPPError("server closed the connection")
            self.parser.feed(data)
            for event, el in self.parser.read_events():
                if event == "start":
                    self.depth += 1
                else:
                    self.depth -= 1
                    if self.depth == 1:
                        self.queue.append(el)
        el = self.queue.pop(0)
        if el.tag == q(NS_STREAM, "error"):
            raise XMPPError("stream error: %s" % ",".join(
                c.tag.split("}")[1] for c in el))
        return el

    def open(self):
        self.send("<?xml version='1.0'?><stream:stream to='%s' "
                  "xmlns='jabber:client' "
                  "xmlns:stream='http://etherx.jabber.org/streams' "
                  "version='1.0'>" % self.domain)
        el = self.next()
        if el.tag != q(NS_STREAM, "features"):
            raise XMPPError("expected stream features, got %s" % el.tag)
        self.features = el
        return el

    def mechanisms(self):
        m = self.features.find(q(NS_SASL, "mechanisms"))
        return [] if m is None else [x.text for x in m]

    def starttls(self):
        if self.features.find(q(NS_TLS, "starttls")) is None:
            raise XMPPError("STARTTLS not offered")
        self.send("<starttls xmlns='%s'/>" % NS_TLS)
        el = self.next()
        if el.tag != q(NS_TLS, "proceed"):
            raise XMPPError("STARTTLS refused: %s" % el.tag)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock.settimeout(self._left())
        self.sock = ctx.wrap_socket(self.sock, server_hostname=self.domain)
        self.tls = True
        self._new_parser()
        return self.open()

    def auth(self, user, password, mech):
        if mech not in self.mechanisms():
            raise XMPPError("%s not offered (%s)" % (
                mech, " ".join(self.mechanisms())))
        if mech == "PLAIN":
            self._sasl_send("auth", mech, b"\0%s\0%s" % (
                user.encode(), password.encode()))
            el = self.next()
        else:
            el = self._scram(user, password, mech)
        if el.tag != q(NS_SASL, "success"):
            cond = ",".join(c.tag.split("}")[1] for c in el)
            raise XMPPError("%s failed: %s" % (mech, cond))
        self._new_parser()
        self.open()

    def _sasl_send(self, what, mech, payload):
        b64 = base64.b64encode(payload).decode() if payload else "="
        mattr = " mechanism='%s'" % mech if what == "auth" else ""
        self.send("<%s xmlns='%s'%s>%s</%s>" % (what, NS_SASL, mattr, b64,
                                                 what))

    def _scram(self, user, password, mech):
        hname = "sha256" if mech == "SCRAM-SHA-256" else "sha1"
        cnonce = base64.b64encode(os.urandom(18)).decode()
        bare = "n=%s,r=%s" % (user, cnonce)
        self._sasl_send("auth", mech, ("n,," + bare).encode())
        el = self.next()
        if el.tag != q(NS_SASL, "challenge"):
            return el
        first = base64.b64decode(el.text or "").decode()
        attrs = dict(kv.split("=", 1) for kv in first.split(","))
        if not attrs["r"].startswith(cnonce):
            raise XMPPError("SCRAM nonce mismatch")
        salted = hashlib.pbkdf2_hmac(hname, password.encode(),
                                     base64.b64decode(attrs["s"]),
                                     int(attrs["i"]))
        ckey = hmac.new(salted, b"Client Key", hname).digest()
        stored = hashlib.new(hname, ckey).digest()
        final = "c=biws,r=%s" % attrs["r"]
        authmsg = ",".join([bare, first, final]).encode()
        sig = hmac.new(stored, authmsg, hname).digest()
        proof = bytes(a ^ b for a, b in zip(ckey, sig))
        self._sasl_send("response", mech, (
            final + ",p=" + base64.b64encode(proof).decode()).encode())
        el = self.next()
        if el.tag == q(NS_SASL, "success"):
            skey = hmac.new(salted, b"Server Key", hname).digest()
            want = base64.b64encode(hmac.new(skey, authmsg,
                                             hname).digest()).decode()
            got = base64.b64decode(el.text or "").decode()
            if got != "v=" + want:
                raise XMPPError("SCRAM server signature mismatch")
        return el

    def iq(self, typ, payload, iq_id):
        self.send("<iq type='%s' id='%s'>%s</iq>" % (typ, iq_id, payload))
        while True:
            el = self.next()
            if el.tag == q(NS_CLIENT, "iq") and el.get("id") == iq_id:
                if el.get("type") == "error":
                    err = el.find(q(NS_CLIENT, "error"))
                    cond = "" if err is None else ",".join(
                        c.tag.split("}")[1] for c in err)
                    raise XMPPError("iq %s failed: %s" % (iq_id, cond))
                return el

    def bind(self, resource="bench"):
        el = self.iq("set", "<bind xmlns='%s'><resource>%s</resource>"
                     "</bind>" % (NS_BIND, resource), "bind1")
        jid = el.find(q(NS_BIND, "bind") + "/" + q(NS_BIND, "jid"))
        if jid is None:
            raise XMPPError("bind result without a JID")
        return jid.text

    def register(self, user, password):
        self.iq("set", "<query xmlns='%s'><username>%s</username>"
                "<password>%s</password></query>" % (NS_REG, user, password),
                "reg1")


def login(port, user, password, mech, tls, timeout=10.0):
    """Full login; returns the bound JID.  tls: False or True (STARTTLS)."""
    s = Stream(port, timeout=timeout)
    try:
        s.open()
        if tls:
            s.starttls()
        s.auth(user, password, mech)
        return s.bind()
    finally:
        s.close()


def mechanisms(port, tls, timeout=10.0):
    s = Stream(port, timeout=timeout)
    try:
        s.open()
        if tls:
            s.starttls()
        return s.mechanisms()
    finally:
        s.close()


def register(port, user, password, tls, timeout=10.0):
    s = Stream(port, timeout=timeout)
    try:
        s.open()
        if tls:
            s.starttls()
        s.register(user, password)
    finally:
        s.close()
