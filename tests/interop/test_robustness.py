"""Regressions from the core review: inputs that once crashed ternd or
held resources forever."""

import socket
import time

import ternlib
from conftest import PASSWORDS


def test_payload_without_namespace(server):
    # <q xmlns=''/> has no namespace: once a NULL dereference.
    s = ternlib.RawStream(server.c2s_port)
    s.login("alice", PASSWORDS["alice@localhost"])
    s.send("<iq type='set' id='x' to='localhost'><q xmlns=''/></iq>")
    r = s.expect(ternlib.q(ternlib.NS_CLIENT, "iq"))
    assert r.get("type") == "error", s.transcript()
    assert r.find(".//" + ternlib.q(ternlib.NS_STANZA,
                                    "service-unavailable")) is not None
    s.close()
    assert server.alive()


def wait_eof(sock, timeout):
    sock.settimeout(timeout)
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if sock.recv(4096) == b"":
                return True
        except socket.timeout:
            return False
        except OSError:
            return True
    return False


def test_silent_tls_connection_is_closed(make_server):
    # A direct TLS connection that never starts its handshake must be
    # closed at auth_timeout, not kept forever (descriptor exhaustion).
    srv = make_server(extra_conf="auth_timeout 1s;")
    socks = [socket.create_connection(("127.0.0.1", srv.tls_port), 5)
             for _ in range(5)]
    for s in socks:
        assert wait_eof(s, 5), "server kept a silent TLS connection open"
        s.close()


def test_stalled_starttls_is_closed(make_server):
    srv = make_server(extra_conf="auth_timeout 1s;")
    s = ternlib.RawStream(srv.c2s_port)
    s.open()
    s.send("<starttls xmlns='%s'/>" % ternlib.NS_TLS)
    s.expect(ternlib.q(ternlib.NS_TLS, "proceed"))
    # never send a ClientHello
    assert wait_eof(s.sock, 5), "server kept a stalled STARTTLS open"
    s.close()


def test_jabber_server_namespace_refused(server):
    s = ternlib.RawStream(server.c2s_port)
    s.login("alice", PASSWORDS["alice@localhost"])
    s.send("<message xmlns='jabber:server' to='bob@localhost'>"
           "<body>x</body></message>")
    cond = s.stream_error()
    assert cond == ["unsupported-stanza-type"], s.transcript()


def open_retry(port, tries=50):
    """A stream that got its features; the server may still be counting
    connections that just closed (the harness's readiness probes, or
    one the test closed), so retry for a bounded while."""
    for _ in range(tries):
        s = ternlib.RawStream(port)
        try:
            s.open()
            return s
        except AssertionError:
            s.close()
            time.sleep(0.1)
    raise AssertionError("no connection accepted in %d tries" % tries)


def test_connections_per_address(make_server):
    srv = make_server(extra_conf="max_connections_per_address 3;")
    held = [open_retry(srv.c2s_port) for _ in range(3)]
    extra = socket.create_connection(("127.0.0.1", srv.c2s_port), 5)
    assert wait_eof(extra, 5), "a 4th connection from one address stayed"
    extra.close()
    srv.wait_log("refusing connections from 127.0.0.1")
    # A slot freed is a slot available again.
    held.pop().close()
    open_retry(srv.c2s_port).close()
    for s in held:
        s.close()
    assert srv.alive()
