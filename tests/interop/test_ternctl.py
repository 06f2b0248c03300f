"""ternctl against a running ternd: users, adduser, passwd, deluser."""

import pytest

from conftest import PASSWORDS
from ternlib import Clients, LoginFailed, run

ALICE = "alice@localhost"
BOB = "bob@localhost"


async def can_login(srv, jid, pw, mech="SCRAM-SHA-256"):
    async with Clients(srv) as cs:
        try:
            await cs.login(jid, pw, mech=mech, presence=False)
            return True
        except LoginFailed as e:
            assert e.condition == "not-authorized", str(e)
            return False


def test_users_lists_accounts(server):
    assert sorted(server.users()) == [ALICE, BOB]
    assert sorted(server.users("localhost")) == [ALICE, BOB]


def test_adduser_while_running(server):
    server.adduser("carol@localhost", "carol pass with spaces")
    assert sorted(server.users()) == [ALICE, BOB, "carol@localhost"]
    for mech in ("SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"):
        assert run(can_login(server, "carol@localhost",
                             "carol pass with spaces", mech)), mech


def test_adduser_existing_fails(server):
    r = server.ctl("adduser", ALICE, input="other\n", check=False)
    assert r.returncode != 0, "adduser replaced an existing account"
    assert run(can_login(server, ALICE, PASSWORDS[ALICE]))
    assert not run(can_login(server, ALICE, "other"))


@pytest.mark.parametrize("mech", ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"])
def test_passwd(server, mech):
    server.passwd(ALICE, "brand-new-pw")
    assert not run(can_login(server, ALICE, PASSWORDS[ALICE], mech)), (
        "old password still works after passwd")
    assert run(can_login(server, ALICE, "brand-new-pw", mech)), (
        "new password refused after passwd")
    assert run(can_login(server, BOB, PASSWORDS[BOB], mech)), (
        "passwd of alice broke bob")


def test_deluser(server):
    assert run(can_login(server, BOB, PASSWORDS[BOB]))
    server.deluser(BOB)
    assert server.users() == [ALICE]
    for mech in ("SCRAM-SHA-256", "PLAIN"):
        assert not run(can_login(server, BOB, PASSWORDS[BOB], mech)), (
            "login still works after deluser (%s)" % mech)
    assert run(can_login(server, ALICE, PASSWORDS[ALICE]))


def test_deleted_user_gets_message_errors(server):
    """Once deleted, the account no longer exists for routing either."""
    server.deluser(BOB)

    async def go():
        async with Clients(server) as cs:
            a = await cs.login(ALICE, PASSWORDS[ALICE])
            a.send_message(mto=BOB, mbody="are you there?", mtype="chat")
            m = await a.next_error()
            assert m["error"]["condition"] == "service-unavailable", str(m)
    run(go())
