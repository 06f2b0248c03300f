"""Process lifecycle: config check, SIGHUP reload, SIGTERM shutdown."""

import asyncio
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import PASSWORDS
from ternlib import (TERND, Clients, RawStream, client_tls_context, cert_der,
                     make_cert, run)

ALICE = "alice@localhost"
BOB = "bob@localhost"


async def chat(a, b, text):
    """Both directions, full JIDs."""
    a.send_message(mto=b.boundjid.full, mbody=text + " a->b", mtype="chat")
    m = await b.next_message()
    assert m["body"] == text + " a->b" and m["from"] == a.boundjid.full
    b.send_message(mto=a.boundjid.full, mbody=text + " b->a", mtype="chat")
    m = await a.next_message()
    assert m["body"] == text + " b->a" and m["from"] == b.boundjid.full


def config_check(conf):
    return subprocess.run([TERND, "-n", "-f", conf], capture_output=True,
                          text=True, timeout=30, stdin=subprocess.DEVNULL)


def test_config_check_ok(make_server):
    srv = make_server(start=False)
    r = config_check(srv.conf)
    assert r.returncode == 0, (r.stdout, r.stderr)


@pytest.mark.parametrize("bad,line", [
    ("no_such_directive 1;", 5),
    ("auth_timeout banana;", 5),
    ("max_stanza_size;", 5),
    ("log debug", 5),
], ids=["unknown-directive", "bad-value", "missing-argument",
        "missing-semicolon"])
def test_config_check_rejects(make_server, bad, line):
    """-n fails with status 1 and names file:line of the error."""
    srv = make_server(start=False)
    text = srv.conf_text(extra=bad)
    assert text.splitlines()[line - 1] == bad
    srv.write_conf(text)
    r = config_check(srv.conf)
    out = r.stdout + r.stderr
    assert r.returncode == 1, (r.returncode, out)
    # "missing semicolon" is only noticed on the next line
    lines = (line, line + 1) if bad == "log debug" else (line,)
    assert any(re.search(r"%s:%d\b" % (re.escape(name), n), out)
               for name in (srv.conf, os.path.basename(srv.conf))
               for n in lines), "no file:line in: " + out


def test_sighup_keeps_sessions(server):
    async def go():
        async with Clients(server) as cs:
            a = await cs.login(ALICE + "/a", PASSWORDS[ALICE])
            b = await cs.login(BOB + "/b", PASSWORDS[BOB])
            await chat(a, b, "before")
            server.signal(signal.SIGHUP)
            await asyncio.sleep(1.0)
            assert server.alive(), "ternd died on SIGHUP"
            assert not a.gone and not b.gone, (a.stream_errors,
                                               b.stream_errors)
            await chat(a, b, "after")
            # a second reload, and new logins still work
            server.signal(signal.SIGHUP)
            await asyncio.sleep(0.5)
            c = await cs.login(BOB + "/c", PASSWORDS[BOB])
            await chat(a, c, "new")
            await chat(a, b, "again")
    run(go())


def peer_cert(port, starttls):
    if starttls:
        s = RawStream(port)
        try:
            s.open()
            s.starttls()
            return s.sock.getpeercert(binary_form=True)
        finally:
            s.close()
    ctx = client_tls_context()
    with socket.create_connection(("127.0.0.1", port), 5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as t:
            return t.getpeercert(binary_form=True)


def test_sighup_reloads_certificate(server, tmp_path):
    old = cert_der(server.cert)
    assert peer_cert(server.tls_port, False) == old
    assert peer_cert(server.c2s_port, True) == old

    async def go():
        async with Clients(server) as cs:
            a = await cs.login(ALICE + "/a", PASSWORDS[ALICE])
            b = await cs.login(BOB + "/b", PASSWORDS[BOB], direct_tls=True)
            new_cert, new_key = make_cert(str(tmp_path), name="renewed")
            for src, dst in ((new_key, server.key), (new_cert, server.cert)):
                with open(src, "rb") as f:
                    data = f.read()
                with open(dst + ".tmp", "wb") as f:
                    f.write(data)
                os.chmod(dst + ".tmp", 0o600)
                os.replace(dst + ".tmp", dst)
            new = cert_der(server.cert)
            assert new != old
            server.signal(signal.SIGHUP)
            deadline = time.monotonic() + 5
            while True:
                got = await asyncio.get_running_loop().run_in_executor(
                    None, peer_cert, server.tls_port, False)
                if got == new or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            assert got == new, "direct TLS still serves the old certificate"
            assert peer_cert(server.c2s_port, True) == new, (
                "STARTTLS still serves the old certificate")
            assert not a.gone and not b.gone
            await chat(a, b, "after cert reload")
    run(go())


def test_sighup_applies_new_limits(make_server):
    """A reload changes limits for new streams (max_stanza_size)."""
    srv = make_server("max_stanza_size 16k;")
    msg = "<message to='%s' id='m'><body>" + "q" * (20 * 1024) + \
        "</body></message>"

    s = RawStream(srv.tls_port, tls=True)
    try:
        jid = s.login("alice", PASSWORDS[ALICE])
        s.send_slowly(msg % jid)
        assert s.stream_error() == ["policy-violation"]
    finally:
        s.close()

    srv.extra_conf = "max_stanza_size 64k;"
    srv.write_conf()
    srv.signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    while True:
        s = RawStream(srv.tls_port, tls=True)
        try:
            jid = s.login("alice", PASSWORDS[ALICE])
            s.send(msg % jid)
            el = s.next()
            ok = el is not None and el.get("id") == "m"
        finally:
            s.close()
        if ok or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert ok, "20 KiB stanza still refused after raising the limit"


def test_sighup_with_broken_config_keeps_running(server):
    """A reload with a config error keeps the old config and the
    sessions, and says so in the log."""
    async def go():
        async with Clients(server) as cs:
            a = await cs.login(ALICE + "/a", PASSWORDS[ALICE])
            b = await cs.login(BOB + "/b", PASSWORDS[BOB])
            server.write_conf(server.conf_text() + "\nthis is { broken\n")
            off = server.log_size()
            server.signal(signal.SIGHUP)
            await asyncio.sleep(1.0)
            assert server.alive(), "ternd died on a bad reload"
            assert not a.gone and not b.gone
            await chat(a, b, "still here")
            c = await cs.login(BOB + "/c", PASSWORDS[BOB])
            await chat(a, c, "new login")
            assert re.search(r"tern\.conf:\d+", server.log_text(off)), (
                "reload error not logged with file:line")
    run(go())


def test_sigterm_system_shutdown(server):
    """SIGTERM: every session gets <system-shutdown/>, ternd exits 0."""
    pre_auth = RawStream(server.c2s_port)
    bound = RawStream(server.tls_port, tls=True)

    async def go():
        async with Clients(server) as cs:
            a = await cs.login(ALICE + "/a", PASSWORDS[ALICE])
            b = await cs.login(BOB + "/b", PASSWORDS[BOB], direct_tls=True)
            server.signal(signal.SIGTERM)
            for c in (a, b):
                assert await c.wait_gone(), "%s not disconnected" % c.boundjid
                errs = await c.wait_stream_error()
                assert errs == ["system-shutdown"], (c.boundjid, errs)

    try:
        pre_auth.open()
        bound.login("alice", PASSWORDS[ALICE], "raw")
        run(go())
        assert bound.stream_error() == ["system-shutdown"], \
            bound.transcript()
        assert bound.wait_eof()
        assert pre_auth.wait_eof(), "unauthenticated stream left open"
    finally:
        pre_auth.close()
        bound.close()
    rc = server.wait_exit(10)
    server.expect_exit = True
    assert rc == 0, "ternd exit status %r after SIGTERM" % rc
