"""In-band registration, password change and account removal (XEP-0077,
mod_register): raw streams for the protocol before authentication,
slixmpp for what clients do."""

import pytest

from conftest import PASSWORDS
from ternlib import (Clients, IqError, IqTimeout, LoginFailed, NS_CLIENT,
                     NS_SASL, NS_TLS, RawStream, WAIT, q, run, stanza_error)

ALICE = "alice@localhost"
BOB = "bob@localhost"
NS_REG = "jabber:iq:register"
NS_FEATURE = "http://jabber.org/features/iq-register"
NS_DATA = "jabber:x:data"
OPEN = "modules register; register_allow yes;"
OPEN_NO_LIMIT = OPEN + " register_interval 0;"


def tls_stream(server):
    """A stream after STARTTLS, not authenticated: (stream, features)."""
    s = RawStream(server.c2s_port)
    s.open()
    s.starttls()
    return s, s.open()


def reg_iq(s, itype, iq_id, body=""):
    s.send("<iq type='%s' id='%s'><query xmlns='%s'>%s</query></iq>"
           % (itype, iq_id, NS_REG, body))
    r = s.expect(q(NS_CLIENT, "iq"))
    assert r.get("id") == iq_id, s.transcript()
    return r


def register(s, user, password, iq_id="reg1"):
    return reg_iq(s, "set", iq_id, "<username>%s</username>"
                  "<password>%s</password>" % (user, password))


async def can_login(server, jid, password):
    async with Clients(server) as cs:
        try:
            await cs.login(jid, password, presence=False)
            return True
        except LoginFailed:
            return False


# -- before authentication ---------------------------------------------------


def test_disabled_by_default(make_server):
    """Loaded but not allowed: not advertised, and the iqs get
    <service-unavailable/> (XEP-0077 3.1); the stream stays usable."""
    srv = make_server(host_conf="modules register;")
    s, feats = tls_stream(srv)
    try:
        assert feats.find(q(NS_FEATURE, "register")) is None, \
            s.transcript()
        r = reg_iq(s, "get", "g1")
        assert stanza_error(r) == ("cancel", ["service-unavailable"])
        r = register(s, "dave", "dave-pw")
        assert stanza_error(r) == ("cancel", ["service-unavailable"])
        assert "dave@localhost" not in srv.users()
        # Still an ordinary stream: alice can log in on it.
        r = s.auth_plain("alice", PASSWORDS[ALICE])
        assert r.tag == q(NS_SASL, "success"), s.transcript()
    finally:
        s.close()


def test_not_loaded(server):
    """Without the module nobody answers: the core's stream error."""
    s, feats = tls_stream(server)
    try:
        assert feats.find(q(NS_FEATURE, "register")) is None
        s.send("<iq type='get' id='g1'><query xmlns='%s'/></iq>" % NS_REG)
        assert s.stream_error() == ["not-authorized"]
    finally:
        s.close()


def test_not_before_tls(make_server):
    srv = make_server(host_conf=OPEN)
    s = RawStream(srv.c2s_port)
    try:
        feats = s.open()
        assert feats.find(q(NS_TLS, "starttls")) is not None
        assert feats.find(q(NS_FEATURE, "register")) is None
        register_xml = ("<iq type='set' id='r1'><query xmlns='%s'>"
                        "<username>dave</username><password>pw</password>"
                        "</query></iq>" % NS_REG)
        s.send(register_xml)
        assert s.stream_error() == ["policy-violation"]
        assert "dave@localhost" not in srv.users()
    finally:
        s.close()


def test_register_then_login(make_server):
    srv = make_server(host_conf=OPEN)
    s, feats = tls_stream(srv)
    try:
        assert feats.find(q(NS_FEATURE, "register")) is not None, \
            s.transcript()
        r = reg_iq(s, "get", "g1")
        assert r.get("type") == "result", s.transcript()
        query = r.find(q(NS_REG, "query"))
        assert query.find(q(NS_REG, "instructions")).text
        assert query.find(q(NS_REG, "username")) is not None
        assert query.find(q(NS_REG, "password")) is not None
        assert query.find(q(NS_REG, "registered")) is None
        form = query.find(q(NS_DATA, "x"))
        assert form is not None and form.get("type") == "form"
        assert {f.get("var") for f in form.iter(q(NS_DATA, "field"))} == \
            {"FORM_TYPE", "username", "password"}
        r = register(s, "Dave", "dave-pw")
        assert r.get("type") == "result", s.transcript()
        assert "dave@localhost" in srv.users()
        # The new account logs in on the same stream (prepared: dave).
        r = s.auth_plain("dave", "dave-pw")
        assert r.tag == q(NS_SASL, "success"), s.transcript()
        feats = s.open()
        assert feats.find(q(NS_FEATURE, "register")) is None
    finally:
        s.close()
    assert run(can_login(srv, "dave@localhost", "dave-pw"))


def test_register_with_a_form(make_server):
    srv = make_server(host_conf=OPEN)
    s, _ = tls_stream(srv)
    try:
        r = reg_iq(s, "set", "r1",
                   "<x xmlns='%s' type='submit'>"
                   "<field var='FORM_TYPE'><value>%s</value></field>"
                   "<field var='username'><value>erin</value></field>"
                   "<field var='password'><value>erin-pw</value></field>"
                   "</x>" % (NS_DATA, NS_REG))
        assert r.get("type") == "result", s.transcript()
    finally:
        s.close()
    assert run(can_login(srv, "erin@localhost", "erin-pw"))


def test_registration_errors(make_server):
    srv = make_server(host_conf=OPEN_NO_LIMIT)
    s, _ = tls_stream(srv)
    try:
        r = register(s, "alice", "other", "e1")
        assert stanza_error(r) == ("cancel", ["conflict"])
        r = reg_iq(s, "set", "e2", "<username>dave</username>")
        assert stanza_error(r) == ("modify", ["not-acceptable"])
        r = reg_iq(s, "set", "e3", "<username>dave</username><password/>")
        assert stanza_error(r) == ("modify", ["not-acceptable"])
        r = register(s, "da ve", "pw", "e4")
        assert stanza_error(r) == ("modify", ["not-acceptable"])
        r = register(s, "dave@elsewhere", "pw", "e5")
        assert stanza_error(r) == ("modify", ["not-acceptable"])
        r = reg_iq(s, "set", "e6", "<remove/>")
        assert stanza_error(r) == ("auth", ["registration-required"])
        assert sorted(srv.users()) == [ALICE, BOB]
    finally:
        s.close()
    assert run(can_login(srv, ALICE, PASSWORDS[ALICE]))


def test_one_registration_per_interval_per_address(make_server):
    srv = make_server(host_conf=OPEN)       # register_interval 60s
    s1, _ = tls_stream(srv)
    s2, _ = tls_stream(srv)
    try:
        # A refused attempt does not use up the address's allowance.
        r = register(s1, "alice", "pw0", "r0")
        assert stanza_error(r) == ("cancel", ["conflict"])
        assert register(s1, "dave", "pw1").get("type") == "result"
        # The next one from the same address, on another stream, waits.
        r = register(s2, "erin", "pw2")
        assert stanza_error(r) == ("wait", ["policy-violation"]), \
            s2.transcript()
        assert "erin@localhost" not in srv.users()
    finally:
        s1.close()
        s2.close()


def test_no_limit_when_interval_is_zero(make_server):
    srv = make_server(host_conf=OPEN_NO_LIMIT)
    for user in ("dave", "erin", "frank"):
        s, _ = tls_stream(srv)
        try:
            r = register(s, user, user + "-pw")
            assert r.get("type") == "result", s.transcript()
        finally:
            s.close()
    assert sorted(srv.users()) == [ALICE, BOB, "dave@localhost",
                                   "erin@localhost", "frank@localhost"]


def test_slixmpp_registers(make_server):
    """slixmpp's own XEP-0077 support creates the account, then logs in."""
    srv = make_server(host_conf=OPEN)

    async def go():
        async with Clients(srv) as cs:
            c = cs.client("dave@localhost", "dave-pw",
                          plugins=("xep_0077",))
            # slixmpp 1.8 queues every iq until the session starts, its
            # own registration iqs included; let them through as later
            # versions do.
            c._always_send_everything = True
            forms = []

            async def on_register(form):
                forms.append(form)
                iq = c.Iq()
                iq["type"] = "set"
                iq["register"]["username"] = c.boundjid.user
                iq["register"]["password"] = c.password
                await iq.send(timeout=WAIT)

            c.add_event_handler("register", on_register)
            await c.start(srv.c2s_port)
            assert forms, "slixmpp saw no registration feature"
            assert c.boundjid.bare == "dave@localhost"
    run(go())
    assert "dave@localhost" in srv.users()


# -- logged-in users ---------------------------------------------------------


@pytest.mark.parametrize("host_conf", ["modules register;", OPEN])
def test_registered_get(make_server, host_conf):
    srv = make_server(host_conf=host_conf)

    async def go():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE + "/a", PASSWORDS[ALICE],
                               plugins=("xep_0077",))
            r = await a["xep_0077"].get_registration(jid="localhost",
                                                     timeout=WAIT)
            assert r["register"]["registered"]
            assert r["register"]["username"] == "alice"
    run(go())


def test_change_password(make_server):
    srv = make_server(host_conf="modules register;")

    async def go():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE + "/a", PASSWORDS[ALICE],
                               plugins=("xep_0077",))
            r = await a["xep_0077"].change_password("n3w-Secret",
                                                    jid="localhost",
                                                    timeout=WAIT)
            assert r["type"] == "result"
            # The session goes on.
            await a.barrier()
    run(go())
    assert not run(can_login(srv, ALICE, PASSWORDS[ALICE]))
    assert run(can_login(srv, ALICE, "n3w-Secret"))
    assert run(can_login(srv, BOB, PASSWORDS[BOB]))


def test_change_password_refusals(make_server):
    srv = make_server(host_conf="modules register;")

    async def go():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE + "/a", PASSWORDS[ALICE],
                               plugins=("xep_0077",))
            for user, pw, want in (("bob", "x", ("auth", "forbidden")),
                                   ("alice", "", ("modify",
                                                  "bad-request"))):
                iq = a.Iq()
                iq["type"] = "set"
                iq["register"]["username"] = user
                iq["register"]["password"] = pw
                try:
                    await iq.send(timeout=WAIT)
                except IqError as e:
                    got = (e.iq["error"]["type"], e.iq["error"]["condition"])
                    assert got == want, (user, got)
                else:
                    raise AssertionError("accepted %r %r" % (user, pw))
    run(go())
    assert run(can_login(srv, ALICE, PASSWORDS[ALICE]))
    assert run(can_login(srv, BOB, PASSWORDS[BOB]))


def test_remove_account(make_server):
    """The result first, then every session of the account ends with
    <not-authorized/> (XEP-0077 3.2); the account is gone."""
    srv = make_server(host_conf="modules register vcard;")

    async def go():
        async with Clients(srv) as cs:
            a1 = await cs.login(ALICE + "/one", PASSWORDS[ALICE],
                                plugins=("xep_0077", "xep_0054"))
            a2 = await cs.login(ALICE + "/two", PASSWORDS[ALICE])
            b = await cs.login(BOB + "/b", PASSWORDS[BOB],
                               plugins=("xep_0054",))
            vc = a1["xep_0054"].make_vcard()
            vc["FN"] = "Alice"
            await a1["xep_0054"].publish_vcard(vc, timeout=WAIT)
            try:
                r = await a1["xep_0077"].cancel_registration(timeout=WAIT)
                assert r["type"] == "result"
            except IqTimeout:
                raise AssertionError("no result to <remove/> before the "
                                     "stream ended")
            for c in (a1, a2):
                assert await c.wait_gone(), "%s still connected" % c.boundjid
                assert await c.wait_stream_error() == ["not-authorized"]
            # bob is untouched, and alice's vCard went with her account.
            assert not b.gone
            try:
                await b["xep_0054"].get_vcard(ALICE, timeout=WAIT)
                raise AssertionError("the vCard outlived the account")
            except IqError as e:
                assert e.iq["error"]["condition"] == "service-unavailable"
    run(go())
    assert srv.users() == [BOB]
    assert not run(can_login(srv, ALICE, PASSWORDS[ALICE]))


def test_removed_account_can_register_again(make_server):
    srv = make_server(host_conf=OPEN_NO_LIMIT)

    async def go():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE + "/a", PASSWORDS[ALICE],
                               plugins=("xep_0077",))
            await a["xep_0077"].cancel_registration(timeout=WAIT)
            assert await a.wait_gone()
    run(go())
    s, _ = tls_stream(srv)
    try:
        assert register(s, "alice", "fresh").get("type") == "result"
    finally:
        s.close()
    assert run(can_login(srv, ALICE, "fresh"))
