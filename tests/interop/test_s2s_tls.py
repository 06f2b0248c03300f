"""Federation with certificates a test CA signed: SASL EXTERNAL
(XEP-0178) instead of dialback, both ways, with a ternd and with
prosody as the peer; RFC 6125 names (wildcard DNS-ID, SRV-ID);
certificates without the clientAuth usage accepted; a certificate that
names another domain or comes from an unknown CA falls back to dialback
with the reason logged."""

import pytest

from s2slib import DomainClients, DomainServer, Prosody, CA, until
from ternlib import WAIT, run

PW = {}


def start_pair(tmp_path, request, kind, a_dom, b_dom, a_cert, b_cert,
               ca=None, trust_a=True, a_extra=""):
    """a (ternd for a_dom) and b (kind, for b_dom), with users alice
    and bob, started."""
    users = {"alice@" + a_dom: "alice-pw", "bob@" + b_dom: "bob-pw"}
    PW.update(users)
    d = tmp_path / "a"
    d.mkdir()
    extra = 's2s_ca_file "%s";' % ca.cert if ca and trust_a else ""
    extra += a_extra
    a = DomainServer(d, a_dom, a_cert[0], a_cert[1], extra_conf=extra,
                     users={k: v for k, v in users.items()
                            if k.endswith("@" + a_dom)})
    d = tmp_path / "b"
    d.mkdir()
    busers = {k: v for k, v in users.items() if k.endswith("@" + b_dom)}
    if kind == "prosody":
        b = Prosody(d, b_dom, b_cert[0], b_cert[1], users=busers,
                    cafile=ca.cert if ca else None,
                    secure_auth=False)
    else:
        b = DomainServer(d, b_dom, b_cert[0], b_cert[1], users=busers,
                         extra_conf='s2s_ca_file "%s";' % ca.cert
                         if ca else "")
    a.route(b_dom, b.s2s_port)
    b.route(a_dom, a.s2s_port)
    made = [a, b]
    request.node._tern_servers = [s for s in made
                                  if isinstance(s, DomainServer)]
    request.addfinalizer(lambda: [s.stop() for s in made])
    for s in made:
        s.start()
    return a, b


def exchange(a, b):
    alice = "alice@" + a.domain
    bob = "bob@" + b.domain

    async def go():
        async with DomainClients(a) as cs:
            ca_ = cs.client(alice + "/pc", PW[alice])
            await ca_.start(a.c2s_port)
            cb = cs.client(bob + "/pc", PW[bob])
            await cb.start(b.c2s_port)
            ca_.send_message(mto=bob, mbody="via tls", mtype="chat")
            assert (await cb.next_message())["body"] == "via tls"
            cb.send_message(mto=alice, mbody="back", mtype="chat")
            assert (await ca_.next_message())["body"] == "back"
    run(go())


@pytest.mark.parametrize("kind", ["tern", "prosody"])
def test_sasl_external_both_ways(tmp_path, binaries, request, kind):
    ca = CA(str(tmp_path))
    # a.test's certificate lacks clientAuth, as public CAs now issue.
    a_cert = ca.issue("a.test", "DNS:a.test", eku="serverAuth")
    b_cert = ca.issue("b.test", "DNS:b.test", eku="serverAuth,clientAuth")
    a, b = start_pair(tmp_path, request, kind, "a.test", "b.test",
                      a_cert, b_cert, ca)
    exchange(a, b)
    assert a.wait_log(r"s2s a\.test -> b\.test: outgoing stream "
                      r"authenticated \(SASL EXTERNAL\)", timeout=2), \
        a.log_tail()
    assert a.wait_log(r"s2s b\.test -> a\.test: incoming stream "
                      r"authenticated \(SASL EXTERNAL\)", timeout=2), \
        a.log_tail()
    if kind == "tern":
        assert b.wait_log(r"s2s b\.test -> a\.test: outgoing stream "
                          r"authenticated \(SASL EXTERNAL\)", timeout=2)


def test_wildcard_and_srv_id(tmp_path, binaries, request):
    ca = CA(str(tmp_path))
    # b.example.test is served with a *.example.test certificate;
    # a.test's certificate names it only with an SRV-ID.
    a_cert = ca.issue("tern a", "otherName:1.3.6.1.5.5.7.8.7;"
                      "IA5STRING:_xmpp-server.a.test")
    b_cert = ca.issue("*.example.test", "DNS:*.example.test")
    a, b = start_pair(tmp_path, request, "tern", "a.test",
                      "b.example.test", a_cert, b_cert, ca)
    exchange(a, b)
    assert a.wait_log(r"a\.test -> b\.example\.test: outgoing stream "
                      r"authenticated \(SASL EXTERNAL\)", timeout=2)
    assert b.wait_log(r"b\.example\.test -> a\.test: outgoing stream "
                      r"authenticated \(SASL EXTERNAL\)", timeout=2)


def test_bad_certificates_fall_back_to_dialback(tmp_path, binaries,
                                                request):
    ca = CA(str(tmp_path))
    other = CA(str(tmp_path / "x"))
    # b.test's certificate names another domain; a.test's comes from a
    # CA b.test does not know.  A wildcard does not cover two labels.
    a_cert = other.issue("a.test", "DNS:a.test")
    b_cert = ca.issue("b.test", "DNS:c.test,DNS:*.test2")
    a, b = start_pair(tmp_path, request, "tern", "a.test", "b.test",
                      a_cert, b_cert, ca)
    exchange(a, b)
    assert a.wait_log(r"a\.test -> b\.test: certificate name mismatch: "
                      r"it does not name b\.test; authenticating with "
                      r"dialback", timeout=2)
    assert a.wait_log(r"a\.test -> b\.test: outgoing stream "
                      r"authenticated \(dialback\)", timeout=2)
    assert b.wait_log(r"b\.test -> a\.test: certificate not trusted: "
                      r"unable to get local issuer certificate; "
                      r"authenticating with dialback", timeout=2)
    assert b.wait_log(r"b\.test -> a\.test: outgoing stream "
                      r"authenticated \(dialback\)", timeout=2)


def test_ca_file_reloaded_on_sighup(tmp_path, binaries, request):
    """a.test starts without s2s_ca_file (dialback to b.test); after a
    reload with it, its next stream to b.test uses SASL EXTERNAL."""
    ca = CA(str(tmp_path))
    a_cert = ca.issue("a.test", "DNS:a.test")
    b_cert = ca.issue("b.test", "DNS:b.test")
    a, b = start_pair(tmp_path, request, "tern", "a.test", "b.test",
                      a_cert, b_cert, ca, trust_a=False,
                      a_extra="s2s_idle_timeout 1s;")
    exchange(a, b)
    assert a.wait_log(r"a\.test -> b\.test: outgoing stream "
                      r"authenticated \(dialback\)", timeout=2)
    assert a.wait_log(r"s2s b\.test: idle for 1s, closing", timeout=5)
    a.extra_conf = 's2s_ca_file "%s"; s2s_idle_timeout 1s;' % ca.cert
    a.write_conf()
    a.signal(1)
    assert a.wait_log(r"reloaded", timeout=5)
    exchange(a, b)
    assert a.wait_log(r"a\.test -> b\.test: outgoing stream "
                      r"authenticated \(SASL EXTERNAL\)", timeout=2), \
        a.log_tail()
