"""Rate limits against floods and password guessing (issue 5): a session
that floods stanzas is closed with policy-violation while a normal one is
not; SASL brute force is throttled per address and per account, logged
once per burst, and the throttle ends after its window."""

import base64
import re
import time

from ternlib import NS_SASL, RawStream, q

PW = {"alice@localhost": "alice-secret-1", "bob@localhost": "bob-Secret-2"}


def plain_attempt(port, user, password, source=None):
    """One PLAIN attempt on a fresh stream (STARTTLS) from source; returns
    the server's answer element (success or failure)."""
    s = RawStream(port, source=source)
    try:
        s.open()
        s.starttls()
        s.open()
        blob = base64.b64encode(("\0%s\0%s" % (user, password))
                                .encode()).decode()
        s.send("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>"
               % (NS_SASL, blob))
        return s.next()
    finally:
        s.close()


def condition(el):
    assert el is not None, "stream closed instead of a SASL answer"
    if el.tag == q(NS_SASL, "success"):
        return "success"
    assert el.tag == q(NS_SASL, "failure"), el.tag
    conds = [c.tag.split("}")[1] for c in el if not c.tag.endswith("}text")]
    return conds[0]


def failure_text(el):
    t = el.find(q(NS_SASL, "text"))
    return t.text if t is not None else ""


def logged_in(port, user, source=None):
    s = RawStream(port, source=source)
    s.login(user, PW[user + "@localhost"])
    return s


def test_stanza_flood_closed_normal_rate_kept(make_server):
    srv = make_server("max_stanza_rate 50; stanza_burst 100;")
    honest = logged_in(srv.c2s_port, "bob")
    flood = logged_in(srv.c2s_port, "alice")
    # The honest client: 60 stanzas at 40/s, below the rate.
    for i in range(60):
        honest.send("<message to='alice@localhost' type='chat' id='h%d'>"
                    "<body>hi</body></message>" % i)
        time.sleep(0.025)
    # The flood: 400 stanzas in one burst, four times the bucket.
    flood.send("".join("<message to='bob@localhost' type='chat' id='f%d'>"
                       "<body>x</body></message>" % i for i in range(400)))
    conds = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        el = flood.next(max(0.1, deadline - time.monotonic()))
        if el is None:
            break
        if el.tag.endswith("}error") and "streams" in el.tag:
            conds = [c.tag.split("}")[1] for c in el
                     if not c.tag.endswith("}text")]
            break
    assert conds == ["policy-violation"], flood.transcript()
    assert flood.wait_eof(5)
    assert srv.wait_log(r"alice@localhost.*stanza flood: above "
                        r"max_stanza_rate 50/s")
    # The honest session is still there and answers.
    honest.send("<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>")
    got = None
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        el = honest.next(5)
        assert el is not None, "honest session closed: " + honest.transcript()
        if el.get("id") == "p1":
            got = el
            break
    assert got is not None and got.get("type") in ("result", "error")
    honest.close()


def test_brute_force_throttled_per_address(make_server):
    srv = make_server(""
                      "auth_failures_per_address 6; "
                      "auth_failures_per_account 0; auth_failure_window 3s;")
    for i in range(6):
        assert condition(plain_attempt(srv.c2s_port, "alice", "guess%d" % i,
                                       "127.0.0.1")) == "not-authorized"
    # The right password from the same address is refused now, before
    # any password check, with a reason a client can show.
    el = plain_attempt(srv.c2s_port, "alice", PW["alice@localhost"],
                       "127.0.0.1")
    assert condition(el) == "temporary-auth-failure"
    assert re.search(r"address; try again in \d+ s", failure_text(el))
    for i in range(5):
        assert condition(plain_attempt(srv.c2s_port, "bob", "x",
                                       "127.0.0.1")) == \
            "temporary-auth-failure"
    # Another address is not affected.
    assert condition(plain_attempt(srv.c2s_port, "alice",
                                   PW["alice@localhost"], "127.0.0.2")) \
        == "success"
    log = srv.log_text()
    starts = re.findall(r"auth: address 127\.0\.0\.1: 6 failed logins "
                        r"within 3s; refusing its logins for 3s", log)
    assert len(starts) == 1, log[-3000:]
    # Refused attempts are not logged one by one at info level.
    assert len(re.findall(r"temporary-auth-failure", log)) <= 6 + 1 + 5
    # The window passes; the address may log in again, and the log sums
    # up the burst once.
    time.sleep(3.2)
    assert condition(plain_attempt(srv.c2s_port, "alice",
                                   PW["alice@localhost"], "127.0.0.1")) \
        == "success"
    assert srv.wait_log(r"auth: address 127\.0\.0\.1: throttle lifted; "
                        r"6 login attempts refused meanwhile")


def test_brute_force_throttled_per_account(make_server):
    srv = make_server(""
                      "auth_failures_per_address 0; "
                      "auth_failures_per_account 4; auth_failure_window 3s;")
    # Guesses spread over four addresses, one each: no address limit
    # applies, the account's does.
    for i in range(4):
        assert condition(plain_attempt(
            srv.c2s_port, "alice", "guess%d" % i,
            "127.0.0.%d" % (10 + i))) == "not-authorized"
    # Now even the right password is refused, whatever the address, so a
    # lucky guess is indistinguishable from a wrong one.
    el = plain_attempt(srv.c2s_port, "alice", PW["alice@localhost"],
                       "127.0.0.20")
    assert condition(el) == "temporary-auth-failure"
    assert "account; try again in" in failure_text(el)
    assert condition(plain_attempt(srv.c2s_port, "alice", "guess-more",
                                   "127.0.0.21")) == \
        "temporary-auth-failure"
    # Other accounts log in from the same addresses.
    assert condition(plain_attempt(srv.c2s_port, "bob", PW["bob@localhost"],
                                   "127.0.0.10")) == "success"
    assert len(re.findall(r"auth: account alice@localhost: 4 failed logins",
                          srv.log_text())) == 1
    time.sleep(3.2)
    assert condition(plain_attempt(srv.c2s_port, "alice",
                                   PW["alice@localhost"], "127.0.0.20")) \
        == "success"
    assert srv.wait_log(r"auth: account alice@localhost: throttle lifted; "
                        r"2 login attempts refused meanwhile")


def test_unknown_accounts_throttled_like_known(make_server):
    """Guessing names is throttled per address as well, and answered like
    a wrong password until then (no enumeration)."""
    srv = make_server(""
                      "auth_failures_per_address 3; auth_failure_window 3s;")
    answers = [condition(plain_attempt(srv.c2s_port, "nobody%d" % i, "x",
                                       "127.0.0.5")) for i in range(4)]
    assert answers == ["not-authorized"] * 3 + ["temporary-auth-failure"]
