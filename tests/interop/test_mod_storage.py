"""Per-account storage served by the server with slixmpp as the client:
vcard-temp (XEP-0054, mod_vcard) and private XML storage (XEP-0049,
mod_private, also as XEP-0048 bookmarks use it)."""

import signal

from slixmpp.xmlstream import ElementBase, ET

from conftest import PASSWORDS
from ternlib import Clients, IqError, IqTimeout, WAIT, run

ALICE = "alice@localhost"
BOB = "bob@localhost"
HOST_CONF = ("modules vcard private; vcard_max_size 2k; "
             "private_max_size 2k;")
VCARD_PLUGINS = ("xep_0054",)
PRIVATE_PLUGINS = ("xep_0049", "xep_0048")


class Prefs(ElementBase):
    """A client's own private element, as XEP-0049 stores them."""
    name = "prefs"
    namespace = "urn:tern:test:prefs"
    plugin_attrib = "prefs"
    interfaces = {"nick", "theme"}
    sub_interfaces = interfaces


async def iq_error(coro):
    """Await an iq send that must fail; (type, condition, text)."""
    try:
        r = await coro
    except IqError as e:
        err = e.iq["error"]
        return err["type"], err["condition"], err["text"]
    except IqTimeout:
        raise AssertionError("no reply within %ss" % WAIT)
    raise AssertionError("expected an error, got %s" % r)


def restart(server):
    """Stop ternd with SIGTERM and start it again on the same data."""
    server.signal(signal.SIGTERM)
    assert server.wait_exit(WAIT) == 0, server.log_tail()
    server.logf.close()
    server.logf = None
    server.start()


def make_vcard(client, fn, nick, desc=None):
    vc = client["xep_0054"].make_vcard()
    vc["FN"] = fn
    vc["NICKNAME"] = nick
    if desc is not None:
        vc["DESC"] = desc
    return vc


# -- vcard-temp ------------------------------------------------------------


def test_vcard_round_trip(make_server):
    srv = make_server(host_conf=HOST_CONF)

    async def go():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE + "/a", PASSWORDS[ALICE],
                               plugins=VCARD_PLUGINS)
            b = await cs.login(BOB + "/b", PASSWORDS[BOB],
                               plugins=VCARD_PLUGINS)
            await a["xep_0054"].publish_vcard(
                make_vcard(a, "Alice Liddell", "alice"), timeout=WAIT)
            # Own vCard, asked from the server (a string JID is not
            # answered from slixmpp's cache).
            r = await a["xep_0054"].get_vcard(ALICE, timeout=WAIT)
            assert r["vcard_temp"]["FN"] == "Alice Liddell"
            assert r["vcard_temp"]["NICKNAME"] == ["alice"]
            # Anyone may read it, from the account's bare JID.
            r = await b["xep_0054"].get_vcard(ALICE, timeout=WAIT)
            assert r["from"] == ALICE
            assert r["vcard_temp"]["FN"] == "Alice Liddell"
            # A new vCard replaces the old one whole.
            await a["xep_0054"].publish_vcard(
                make_vcard(a, "A. Liddell", "al"), timeout=WAIT)
            r = await b["xep_0054"].get_vcard(ALICE, timeout=WAIT)
            assert r["vcard_temp"]["FN"] == "A. Liddell"
            assert r["vcard_temp"]["NICKNAME"] == ["al"]
    run(go())


def test_vcard_survives_restart(make_server):
    srv = make_server(host_conf=HOST_CONF)

    async def publish():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE + "/a", PASSWORDS[ALICE],
                               plugins=VCARD_PLUGINS)
            await a["xep_0054"].publish_vcard(
                make_vcard(a, "Alice Liddell", "alice"), timeout=WAIT)

    async def read():
        async with Clients(srv) as cs:
            b = await cs.login(BOB + "/b", PASSWORDS[BOB],
                               plugins=VCARD_PLUGINS)
            r = await b["xep_0054"].get_vcard(ALICE, timeout=WAIT)
            assert r["vcard_temp"]["FN"] == "Alice Liddell"

    run(publish())
    restart(srv)
    run(read())


def test_vcard_missing(make_server):
    srv = make_server(host_conf=HOST_CONF)

    async def go():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE + "/a", PASSWORDS[ALICE],
                               plugins=VCARD_PLUGINS)
            # Own: item-not-found (XEP-0054 3.1).
            t, cond, _ = await iq_error(
                a["xep_0054"].get_vcard(ALICE, timeout=WAIT))
            assert (t, cond) == ("cancel", "item-not-found")
            # Someone else's: the same as for an account that does not
            # exist (3.3), so accounts cannot be probed this way.
            t1, c1, _ = await iq_error(
                a["xep_0054"].get_vcard(BOB, timeout=WAIT))
            t2, c2, _ = await iq_error(
                a["xep_0054"].get_vcard("nobody@localhost", timeout=WAIT))
            assert (t1, c1) == (t2, c2) == ("cancel", "service-unavailable")
    run(go())


def test_vcard_only_the_owner_writes(make_server):
    srv = make_server(host_conf=HOST_CONF)

    async def go():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE + "/a", PASSWORDS[ALICE],
                               plugins=VCARD_PLUGINS)
            b = await cs.login(BOB + "/b", PASSWORDS[BOB],
                               plugins=VCARD_PLUGINS)
            await a["xep_0054"].publish_vcard(
                make_vcard(a, "Alice Liddell", "alice"), timeout=WAIT)
            t, cond, _ = await iq_error(b["xep_0054"].publish_vcard(
                make_vcard(b, "Mallory", "m"), jid=ALICE, timeout=WAIT))
            assert (t, cond) == ("auth", "forbidden")
            r = await b["xep_0054"].get_vcard(ALICE, timeout=WAIT)
            assert r["vcard_temp"]["FN"] == "Alice Liddell"
    run(go())


def test_vcard_size_limit(make_server):
    srv = make_server(host_conf=HOST_CONF)

    async def go():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE + "/a", PASSWORDS[ALICE],
                               plugins=VCARD_PLUGINS)
            t, cond, text = await iq_error(a["xep_0054"].publish_vcard(
                make_vcard(a, "Alice", "alice", desc="x" * 3000),
                timeout=WAIT))
            assert (t, cond) == ("modify", "not-acceptable")
            assert "2048 bytes" in text
            # Nothing was stored; a vCard within the limit is.
            await iq_error(a["xep_0054"].get_vcard(ALICE, timeout=WAIT))
            await a["xep_0054"].publish_vcard(
                make_vcard(a, "Alice", "alice", desc="x" * 1000),
                timeout=WAIT)
            r = await a["xep_0054"].get_vcard(ALICE, timeout=WAIT)
            assert r["vcard_temp"]["DESC"] == "x" * 1000
    run(go())


# -- private XML storage ---------------------------------------------------


def test_private_round_trip(make_server):
    srv = make_server(host_conf=HOST_CONF)

    async def go():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE + "/a", PASSWORDS[ALICE],
                               plugins=PRIVATE_PLUGINS)
            a["xep_0049"].register(Prefs)
            # Nothing stored: the element comes back as asked.
            r = await a["xep_0049"].retrieve("prefs", timeout=WAIT)
            assert r["type"] == "result"
            assert r["private"]["prefs"]["nick"] == ""
            p = Prefs()
            p["nick"] = "Al"
            p["theme"] = "dark"
            await a["xep_0049"].store(p, timeout=WAIT)
            r = await a["xep_0049"].retrieve("prefs", timeout=WAIT)
            assert r["private"]["prefs"]["nick"] == "Al"
            assert r["private"]["prefs"]["theme"] == "dark"
    run(go())


def test_private_bookmarks(make_server):
    """XEP-0048 bookmarks in private storage, as older clients keep
    them; a second client of the account sees them."""
    srv = make_server(host_conf=HOST_CONF)

    async def go():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE + "/a", PASSWORDS[ALICE],
                               plugins=PRIVATE_PLUGINS)
            bm = a["xep_0048"].stanza.Bookmarks()
            bm.add_conference("room@conference.localhost", "al",
                              name="The Room", autojoin=True)
            bm.add_url("https://example.org/", name="Example")
            await a["xep_0048"].set_bookmarks(bm, method="xep_0049",
                                              timeout=WAIT)
            a2 = await cs.login(ALICE + "/a2", PASSWORDS[ALICE],
                                plugins=PRIVATE_PLUGINS)
            r = await a2["xep_0048"].get_bookmarks(method="xep_0049",
                                                   timeout=WAIT)
            confs = r["private"]["bookmarks"]["conferences"]
            assert len(confs) == 1
            assert confs[0]["jid"] == "room@conference.localhost"
            assert confs[0]["nick"] == "al"
            assert confs[0]["autojoin"] is True
            assert r["private"]["bookmarks"]["urls"][0]["url"] == \
                "https://example.org/"
    run(go())


def test_private_survives_restart(make_server):
    srv = make_server(host_conf=HOST_CONF)

    async def store():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE + "/a", PASSWORDS[ALICE],
                               plugins=PRIVATE_PLUGINS)
            a["xep_0049"].register(Prefs)
            p = Prefs()
            p["nick"] = "Al"
            await a["xep_0049"].store(p, timeout=WAIT)

    async def read():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE + "/a", PASSWORDS[ALICE],
                               plugins=PRIVATE_PLUGINS)
            a["xep_0049"].register(Prefs)
            r = await a["xep_0049"].retrieve("prefs", timeout=WAIT)
            assert r["private"]["prefs"]["nick"] == "Al"

    run(store())
    restart(srv)
    run(read())


def test_private_is_private(make_server):
    srv = make_server(host_conf=HOST_CONF)

    async def go():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE + "/a", PASSWORDS[ALICE],
                               plugins=PRIVATE_PLUGINS)
            b = await cs.login(BOB + "/b", PASSWORDS[BOB],
                               plugins=PRIVATE_PLUGINS)
            for c in (a, b):
                c["xep_0049"].register(Prefs)
            p = Prefs()
            p["nick"] = "Al"
            await a["xep_0049"].store(p, timeout=WAIT)
            for itype in ("get", "set"):
                iq = b.make_iq(ito=ALICE, itype=itype)
                iq["private"].append(Prefs())
                t, cond, _ = await iq_error(iq.send(timeout=WAIT))
                assert (t, cond) == ("auth", "forbidden"), itype
            # bob's own storage is his own.
            r = await b["xep_0049"].retrieve("prefs", timeout=WAIT)
            assert r["private"]["prefs"]["nick"] == ""
    run(go())


def test_private_refusals(make_server):
    srv = make_server(host_conf=HOST_CONF)

    async def go():
        async with Clients(srv) as cs:
            a = await cs.login(ALICE + "/a", PASSWORDS[ALICE],
                               plugins=PRIVATE_PLUGINS)
            cases = [
                # reserved namespace (XEP-0049 2.3)
                ("set", "<query xmlns='jabber:iq:roster'/>",
                 "not-acceptable"),
                # nothing to get or set
                ("get", "", "not-acceptable"),
                # too large for private_max_size
                ("set", "<big xmlns='urn:tern:test:big'>%s</big>"
                 % ("y" * 3000), "not-acceptable"),
            ]
            for itype, body, want in cases:
                iq = a.make_iq(itype=itype)
                iq.append(ET.fromstring(
                    "<query xmlns='jabber:iq:private'>%s</query>" % body))
                _, cond, _ = await iq_error(iq.send(timeout=WAIT))
                assert cond == want, (itype, body[:60], cond)
    run(go())
