"""Several virtual hosts in one ternd, each with its own certificate,
chosen by SNI; accounts belong to one host; users of two local hosts
chat with each other."""

import socket
import ssl

import pytest

import ternlib
from ternlib import Clients, LoginFailed, run

ALICE = ("alice@localhost", "alice-secret-1")
CAROL = ("carol@example.test", "carol-pw-3")


@pytest.fixture
def vhost_server(make_server, tmp_path):
    d = tmp_path / "certs2"
    d.mkdir()
    cert, key = ternlib.make_cert(str(d), cn="example.test", name="ex")
    extra = 'host "example.test" { certificate "%s" "%s"; }' % (cert, key)
    users = {ALICE[0]: ALICE[1], CAROL[0]: CAROL[1]}
    return make_server(extra_conf=extra, users=users)


def peer_cn(port, sni):
    """The CN of the certificate the server shows for this SNI name."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), ternlib.WAIT) as s:
        with ctx.wrap_socket(s, server_hostname=sni) as t:
            der = t.getpeercert(binary_form=True)
    pem = ssl.DER_cert_to_PEM_cert(der)
    import subprocess
    out = subprocess.run(["openssl", "x509", "-noout", "-subject"],
                         input=pem.encode(), capture_output=True,
                         check=True).stdout.decode()
    return out.strip().split("CN")[-1].lstrip(" =")


def test_sni_selects_certificate(vhost_server):
    port = vhost_server.tls_port
    assert peer_cn(port, "example.test") == "example.test"
    assert peer_cn(port, "localhost") == "localhost"
    # An unknown or missing name gets the certificate of the first host
    # block in the file (example.test: the harness writes extra_conf
    # before its own host block).
    assert peer_cn(port, "unknown.example") == "example.test"


def test_sni_names_the_stream_domain(vhost_server):
    # Direct TLS with SNI and a header without 'to': the SNI host serves.
    s = ternlib.RawStream(vhost_server.tls_port, tls=False)
    ctx = ternlib.client_tls_context()
    s.sock = ctx.wrap_socket(s.sock, server_hostname="example.test")
    s.tls = True
    s.send("<?xml version='1.0'?><stream:stream version='1.0' "
           "xmlns='jabber:client' "
           "xmlns:stream='http://etherx.jabber.org/streams'>")
    feats = s.next()
    assert s.root is not None and s.root.get("from") == "example.test", (
        s.transcript())
    assert feats.tag == ternlib.q(ternlib.NS_STREAM, "features")
    s.close()


def test_users_of_two_hosts_chat(vhost_server):
    async def go():
        async with Clients(vhost_server) as cs:
            a = await cs.login(ALICE[0] + "/a", ALICE[1])
            c = await cs.login(CAROL[0] + "/c", CAROL[1], direct_tls=True)
            assert c.boundjid.full == "carol@example.test/c"
            a.send_message(mto=CAROL[0], mbody="hello carol")
            m = await c.next_message()
            assert m["body"] == "hello carol"
            assert m["from"].full == "alice@localhost/a"
            c.send_message(mto=ALICE[0], mbody="hi alice")
            m = await a.next_message()
            assert m["from"].full == "carol@example.test/c"
    run(go())


def test_accounts_belong_to_one_host(vhost_server):
    async def go():
        async with Clients(vhost_server) as cs:
            with pytest.raises(LoginFailed) as e:
                await cs.login("carol@localhost/x", CAROL[1])
            assert e.value.condition == "not-authorized"
    run(go())
    assert vhost_server.users("example.test") == [CAROL[0]]
