"""Resource binding (RFC 6120 section 7) and resource conflicts."""

from conftest import PASSWORDS
from ternlib import (Clients, RawStream, NS_BIND, NS_CLIENT, q, run,
                     stanza_error)

ALICE = "alice@localhost"
BOB = "bob@localhost"


def test_bind_chosen_resource(server):
    async def go():
        async with Clients(server) as cs:
            a = await cs.login(ALICE + "/laptop", PASSWORDS[ALICE])
            assert a.boundjid.full == ALICE + "/laptop"
    run(go())


def test_bind_server_generated_resource(server):
    """No resource requested: the server picks one, distinct per session,
    and two such sessions coexist."""
    async def go():
        async with Clients(server) as cs:
            a1 = await cs.login(ALICE, PASSWORDS[ALICE])
            a2 = await cs.login(ALICE, PASSWORDS[ALICE])
            for a in (a1, a2):
                assert a.boundjid.bare == ALICE
                assert a.boundjid.resource, "no resource in %s" % a.boundjid
            assert a1.boundjid.resource != a2.boundjid.resource
            await a1.barrier()
            assert not a1.gone and not a2.gone
            # each one reachable on its own full JID
            b = await cs.login(BOB, PASSWORDS[BOB])
            for a in (a1, a2):
                b.send_message(mto=a.boundjid.full,
                               mbody="to " + a.boundjid.resource,
                               mtype="chat")
                m = await a.next_message()
                assert m["body"] == "to " + a.boundjid.resource
    run(go())


def test_resource_conflict_replaces_old_session(server):
    """Default policy: the new login with the same full JID wins; the old
    session gets a <conflict/> stream error and is disconnected."""
    async def go():
        async with Clients(server) as cs:
            old = await cs.login(ALICE + "/phone", PASSWORDS[ALICE])
            new = await cs.login(ALICE + "/phone", PASSWORDS[ALICE])
            assert new.boundjid.full == ALICE + "/phone"
            assert await old.wait_gone(), "old session still connected"
            errs = await old.wait_stream_error()
            assert errs == ["conflict"], errs
            assert not new.gone
            # the new session is the one that gets traffic
            b = await cs.login(BOB, PASSWORDS[BOB])
            b.send_message(mto=ALICE + "/phone", mbody="who is there",
                           mtype="chat")
            m = await new.next_message()
            assert m["body"] == "who is there"
            new.send_message(mto=b.boundjid.full, mbody="the new one",
                             mtype="chat")
            m = await b.next_message()
            assert m["body"] == "the new one"
            assert m["from"] == ALICE + "/phone"
    run(go())


def test_resource_conflict_reject(make_server):
    """resource_conflict reject: the new bind gets a <conflict/> iq error,
    the old session is untouched, and the newcomer can bind another
    resource."""
    srv = make_server("resource_conflict reject;")
    first = RawStream(srv.tls_port, tls=True)
    second = RawStream(srv.tls_port, tls=True)
    try:
        assert first.login("alice", PASSWORDS[ALICE], "desk") == \
            ALICE + "/desk"
        second.open()
        r = second.auth_plain("alice", PASSWORDS[ALICE])
        assert r.tag.endswith("}success"), second.transcript()
        second.open()
        r = second.bind("desk")
        assert r.get("type") == "error", second.transcript()
        err = stanza_error(r)
        assert err is not None and "conflict" in err[1], second.transcript()
        # the first session is still there and working
        first.send("<iq type='get' id='p1' to='localhost'>"
                   "<ping xmlns='urn:xmpp:ping'/></iq>")
        el = first.expect(q(NS_CLIENT, "iq"))
        assert el.get("id") == "p1", first.transcript()
        assert not first.closed
        # the newcomer binds another resource
        r = second.bind("desk2", iq_id="bind2")
        assert r.get("type") == "result", second.transcript()
        jid = r.find("%s/%s" % (q(NS_BIND, "bind"), q(NS_BIND, "jid")))
        assert jid is not None and jid.text == ALICE + "/desk2"
        # a message to the contested full JID reaches the first session
        second.send("<message to='%s/desk' type='chat' id='m1'>"
                    "<body>still yours</body></message>" % ALICE)
        el = first.expect(q(NS_CLIENT, "message"))
        assert el.findtext(q(NS_CLIENT, "body")) == "still yours"
        assert el.get("from") == ALICE + "/desk2"
    finally:
        first.close()
        second.close()

