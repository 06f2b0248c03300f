"""Finding a remote server in DNS: SRV _xmpp-server._tcp by priority
(the next target tried when one fails), _xmpps-server._tcp (direct
TLS, XEP-0368), the domain's A record on port 5269 when there is no SRV
record, and names that do not exist.  DNS comes from a tiny responder
on a loopback UDP port that the test starts (s2slib.DnsResponder);
ternd is pointed at it with dns_nameserver.  b.test reaches a.test
through s2s_route."""

import pytest

from s2slib import (DnsResponder, DomainClients, DomainServer,
                    make_domain_cert)
from ternlib import free_port, run

A, B = "a.test", "b.test"
PW = {"alice@a.test": "alice-pw", "bob@b.test": "bob-pw"}


@pytest.fixture
def dns_pair(tmp_path, binaries, request):
    """make(records_for_b_port) -> (a, b, dns); a resolves with DNS."""
    made = []

    def make(records, b_extra=""):
        # b first: its ports go into the DNS records.
        cert, key = make_domain_cert(str(tmp_path), B)
        d = tmp_path / B
        d.mkdir()
        b = DomainServer(d, B, cert, key, users={"bob@b.test": "bob-pw"},
                         extra_conf=b_extra)
        dns = DnsResponder(records(b))
        cert, key = make_domain_cert(str(tmp_path), A)
        d = tmp_path / A
        d.mkdir()
        a = DomainServer(d, A, cert, key,
                         users={"alice@a.test": "alice-pw"},
                         extra_conf='dns_nameserver "127.0.0.1:%d";\n'
                         's2s_connect_timeout 4s;' % dns.port)
        b.route(A, a.s2s_port)
        made.extend([a, b])
        request.node._tern_servers = [a, b]
        request.addfinalizer(dns.stop)
        a.start()
        b.start()
        return a, b, dns

    yield make
    problems = []
    for srv in made:
        problems += srv.stop()
    assert not problems, problems


async def send(cs, a, b, to="bob@b.test", expect=True):
    alice = cs.client("alice@a.test/pc", PW["alice@a.test"])
    await alice.start(a.c2s_port)
    bob = cs.client("bob@b.test/pc", PW["bob@b.test"])
    await bob.start(b.c2s_port)
    alice.send_message(mto=to, mbody="over dns", mtype="chat")
    if expect:
        assert (await bob.next_message())["body"] == "over dns"
    return alice


def test_srv_priority_and_next_target(dns_pair):
    dead = free_port()
    a, b, dns = dns_pair(lambda b: {
        ("_xmpp-server._tcp.b.test", "SRV"): [
            (20, 0, b.s2s_port, "xmpp2.b.test"),
            (10, 5, dead, "xmpp1.b.test")],
        ("xmpp1.b.test", "A"): ["127.0.0.1"],
        ("xmpp2.b.test", "A"): ["127.0.0.1"],
        ("b.test", "A"): ["127.0.0.1"],
    })

    async def go():
        async with DomainClients(a) as cs:
            await send(cs, a, b)
    run(go())
    assert ("_xmpp-server._tcp.b.test", "SRV") in dns.queries
    assert ("_xmpps-server._tcp.b.test", "SRV") in dns.queries
    log = a.log_text()
    first = log.find("TCP connection refused (127.0.0.1:%d)" % dead)
    ok = log.find("connected to 127.0.0.1:%d" % b.s2s_port)
    assert 0 <= first < ok, a.log_tail()
    assert "outgoing stream authenticated (dialback)" in log


def test_xmpps_server_direct_tls(dns_pair):
    tls_port = free_port()
    a, b, dns = dns_pair(lambda b: {
        ("_xmpps-server._tcp.b.test", "SRV"): [
            (0, 0, tls_port, "tls.b.test")],
        ("tls.b.test", "A"): ["127.0.0.1"],
        ("b.test", "A"): ["127.0.0.1"],
    }, b_extra='listen s2s_tls "127.0.0.1:%d";' % tls_port)

    async def go():
        async with DomainClients(a) as cs:
            await send(cs, a, b)
    run(go())
    assert a.wait_log(r"connected to 127\.0\.0\.1:%d direct TLS"
                      % tls_port, timeout=1), a.log_tail()
    assert b.wait_log(r"s2s connection accepted \(direct TLS\)",
                      timeout=1)


def test_no_srv_falls_back_to_a_on_5269(dns_pair):
    # 192.0.2.1 (TEST-NET-1) is never a real server: refused or silent.
    a, b, dns = dns_pair(lambda b: {
        ("b.test", "A"): ["192.0.2.1"],
    })

    async def go():
        async with DomainClients(a) as cs:
            alice = await send(cs, a, b, expect=False)
            e = await alice.next_error(timeout=8)
            assert e["error"]["condition"] in ("remote-server-not-found",
                                               "remote-server-timeout")
    run(go())
    assert a.wait_log(r"s2s a\.test -> b\.test: .*\(192\.0\.2\.1:5269\)",
                      timeout=1), a.log_tail()


def test_unknown_domain(dns_pair):
    a, b, dns = dns_pair(lambda b: {("b.test", "A"): ["127.0.0.1"]})

    async def go():
        async with DomainClients(a) as cs:
            alice = await send(cs, a, b, to="x@nowhere.test", expect=False)
            e = await alice.next_error(timeout=8)
            assert e["error"]["condition"] == "remote-server-not-found"
    run(go())
    assert a.wait_log(r"s2s a\.test -> nowhere\.test: DNS: no address "
                      r"record for nowhere\.test:5269", timeout=1), \
        a.log_tail()


def test_next_address_of_a_target(dns_pair):
    """One SRV target with A and AAAA records (both are asked for); the
    first address refuses, so the next one is tried."""
    a, b, dns = dns_pair(lambda b: {
        ("_xmpp-server._tcp.b.test", "SRV"): [
            (0, 0, b.s2s_port, "multi.b.test")],
        ("multi.b.test", "A"): ["127.0.0.2", "127.0.0.1"],
        ("multi.b.test", "AAAA"): ["::1"],
        ("b.test", "A"): ["127.0.0.1"],
    })

    async def go():
        async with DomainClients(a) as cs:
            await send(cs, a, b)
    run(go())
    assert ("multi.b.test", "AAAA") in dns.queries
    log = a.log_text()
    ok = log.find("connected to 127.0.0.1:%d" % b.s2s_port)
    refused = log.find("TCP connection refused (127.0.0.2:%d)"
                       % b.s2s_port)
    assert 0 <= refused < ok, a.log_tail()
