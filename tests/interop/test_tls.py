"""TLS: what a reload does with a broken certificate, and the protocol
defaults, checked from outside with `openssl s_client` on the STARTTLS
port (-starttls xmpp) and the direct TLS port (XEP-0368)."""

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest

from conftest import PASSWORDS
from ternlib import (DOMAIN, RawStream, Server, cert_der, client_tls_context,
                     make_cert)

ALICE = "alice@localhost"


def served_cert(port, starttls):
    """DER of the certificate the server presents on port."""
    if starttls:
        s = RawStream(port)
        try:
            s.open()
            s.starttls()
            return s.sock.getpeercert(binary_form=True)
        finally:
            s.close()
    with socket.create_connection(("127.0.0.1", port), 5) as raw:
        with client_tls_context().wrap_socket(
                raw, server_hostname=DOMAIN) as t:
            return t.getpeercert(binary_form=True)


def break_cert(srv, how, tmp_path):
    """Make the certificate (or key) of srv unusable in one way."""
    if how == "cert-missing":
        os.unlink(srv.cert)
    elif how == "key-missing":
        os.unlink(srv.key)
    elif how == "cert-is-directory":
        os.unlink(srv.cert)
        os.mkdir(srv.cert)
    elif how == "cert-garbage":
        with open(srv.cert, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all\n")
    elif how == "key-mismatch":
        _, other_key = make_cert(str(tmp_path), name="other")
        shutil.copyfile(other_key, srv.key)
    elif how == "cert-unreadable":
        os.chmod(srv.cert, 0)
    else:
        raise ValueError(how)


BROKEN = {
    "cert-missing": r"cannot read certificate \S+cert\.pem: No such file",
    "key-missing": r"cannot read key \S+key\.pem: No such file",
    "cert-is-directory": r"bad certificate \S+cert\.pem",
    "cert-garbage": r"bad certificate \S+cert\.pem",
    "key-mismatch": r"bad key \S+key\.pem: .*key values mismatch",
    "cert-unreadable": r"cannot read certificate \S+cert\.pem: "
                       r"Permission denied",
}


# root reads a mode-000 file: as root that case would prove nothing.
@pytest.mark.parametrize("how", sorted(
    h for h in BROKEN if h != "cert-unreadable" or os.geteuid() != 0))
def test_reload_with_broken_certificate_keeps_old(server, tmp_path, how):
    """SIGHUP with the certificate missing, unreadable or bad: the old
    certificate stays in use on both ports, new logins work, and the log
    says why."""
    old = cert_der(server.cert)
    assert served_cert(server.tls_port, False) == old
    assert served_cert(server.c2s_port, True) == old
    break_cert(server, how, tmp_path)
    off = server.log_size()
    server.signal(signal.SIGHUP)
    pattern = r"warn.*tls: host localhost: %s.*; keeping the certificate " \
              r"in use" % BROKEN[how]
    assert server.wait_log(pattern, 5, off), (
        "no log line matching %r after the reload:\n%s"
        % (pattern, server.log_text(off)))
    assert served_cert(server.tls_port, False) == old
    assert served_cert(server.c2s_port, True) == old
    for tls in (False, True):
        s = RawStream(server.tls_port if tls else server.c2s_port, tls=tls)
        try:
            assert s.login("alice", PASSWORDS[ALICE]).startswith(ALICE)
        finally:
            s.close()
    assert server.alive()


# ----------------------------------------------------------------------
# Protocol defaults


@pytest.fixture(scope="module")
def rsa_server(tmp_path_factory, binaries):
    """A ternd with an RSA certificate: with it, static-RSA key exchange
    (no forward secrecy) would be possible if ternd allowed it, which an
    EC certificate rules out by itself."""
    d = tmp_path_factory.mktemp("rsa")
    certs = d / "certs"
    certs.mkdir()
    cert, key = make_cert(str(certs), rsa=True)
    (d / "srv").mkdir()
    srv = Server(d / "srv", cert, key, users={ALICE: PASSWORDS[ALICE]})
    srv.start()
    yield srv
    problems = srv.stop()
    if problems:
        pytest.fail("\n".join(problems) + "\n" + srv.log_tail(),
                    pytrace=False)


def s_client(srv, starttls, *args, stdin=b"", hold=0.0, timeout=15):
    """Run openssl s_client against srv; (exit status, all output).

    stdin is sent after the handshake; hold keeps stdin open that many
    seconds more (for 'R', renegotiate)."""
    cmd = ["openssl", "s_client", "-connect"]
    if starttls:
        cmd += ["127.0.0.1:%d" % srv.c2s_port, "-starttls", "xmpp",
                "-xmpphost", DOMAIN]
    else:
        cmd += ["127.0.0.1:%d" % srv.tls_port, "-servername", DOMAIN]
    cmd += list(args)
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    try:
        if stdin or hold:
            time.sleep(0.5)
            p.stdin.write(stdin)
            p.stdin.flush()
            time.sleep(hold)
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        raise AssertionError("s_client did not finish within %ss:\n%s"
                             % (timeout, out.decode("utf-8", "replace")))
    return p.returncode, out.decode("utf-8", "replace")


def negotiated(out):
    """(protocol, cipher) from s_client's report; cipher '(NONE)' if no
    session was established."""
    m = re.search(r"^New, (\S+), Cipher is (\S+)", out, re.M)
    if m is None:
        m = re.search(r"^New, (\(NONE\)), Cipher is (\S+)", out, re.M)
    assert m, "no session line in s_client output:\n" + out
    return m.group(1), m.group(2)


PORTS = pytest.mark.parametrize("starttls", [True, False],
                                ids=["starttls", "direct-tls"])

# OpenSSL 3 clients refuse TLS < 1.2 at their default security level;
# level 0 lets them offer it, so that a refusal is the server's.
OLD_OK = "DEFAULT:@SECLEVEL=0"


@PORTS
@pytest.mark.parametrize("version", ["-tls1", "-tls1_1"])
def test_old_tls_refused(rsa_server, starttls, version):
    rc, out = s_client(rsa_server, starttls, version, "-cipher", OLD_OK)
    assert negotiated(out)[1] == "(NONE)", out
    assert "alert protocol version" in out, (
        "not refused by the server with a protocol_version alert:\n" + out)


@PORTS
@pytest.mark.parametrize("version,name", [("-tls1_2", "TLSv1.2"),
                                          ("-tls1_3", "TLSv1.3")])
def test_modern_tls_accepted(rsa_server, starttls, version, name):
    rc, out = s_client(rsa_server, starttls, version)
    proto, cipher = negotiated(out)
    assert proto == name, out
    assert "Compression: NONE" in out, out
    if name == "TLSv1.2":
        # forward secret and authenticated encryption
        assert cipher.startswith("ECDHE-") and (
            "GCM" in cipher or "CHACHA20" in cipher), cipher


@PORTS
@pytest.mark.parametrize("cipher", [
    "AES128-SHA", "AES256-GCM-SHA384", "kRSA", "DHE-RSA-AES128-SHA",
    "ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA384", "aNULL", "eNULL"])
def test_weak_tls12_ciphers_refused(rsa_server, starttls, cipher):
    """No TLS 1.2 suite without forward secrecy (static RSA) or without
    AEAD (CBC), nor unauthenticated or unencrypted ones."""
    rc, out = s_client(rsa_server, starttls, "-tls1_2", "-cipher",
                       cipher + ":@SECLEVEL=0")
    assert negotiated(out)[1] == "(NONE)", out
    assert "alert handshake failure" in out, out


@pytest.mark.parametrize("offer", [
    "ALL:COMPLEMENTOFALL:!kECDHE:!kDHE",        # no forward secrecy
    "ALL:COMPLEMENTOFALL:!AESGCM:!CHACHA20:!AESCCM:!ARIAGCM",  # no AEAD
])
def test_tls12_offers_without_fs_or_aead_refused(rsa_server, offer):
    """Every TLS 1.2 suite OpenSSL knows that lacks forward secrecy, or
    AEAD, offered at once: the server takes none of them."""
    ctx = client_tls_context()
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(offer + ":@SECLEVEL=0")
    offered = [c["name"] for c in ctx.get_ciphers()
               if c["protocol"] == "TLSv1.2"]
    assert len(offered) > 10, offered
    with socket.create_connection(("127.0.0.1", rsa_server.tls_port),
                                  5) as raw:
        with pytest.raises(ssl.SSLError, match="HANDSHAKE_FAILURE"):
            with ctx.wrap_socket(raw, server_hostname=DOMAIN) as t:
                raise AssertionError("the server accepted %s of %r"
                                     % (t.cipher(), offered))


@PORTS
def test_renegotiation_refused(rsa_server, starttls):
    """A client-initiated renegotiation ('R' in s_client, TLS 1.2) is
    refused; the server survives and keeps serving."""
    rc, out = s_client(rsa_server, starttls, "-tls1_2", stdin=b"R\n",
                       hold=1.0)
    assert negotiated(out)[0] == "TLSv1.2", out
    assert "RENEGOTIATING" in out, out
    assert "no renegotiation" in out, (
        "renegotiation was not refused:\n" + out)
    assert rsa_server.alive()
    rc, out = s_client(rsa_server, starttls, "-tls1_2")
    assert negotiated(out)[0] == "TLSv1.2", out
