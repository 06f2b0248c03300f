"""Fixtures for the tern interop suite: a certificate for the session, a
fresh ternd per test, and the ternd log attached to every failure."""

import os

import pytest

import ternlib
from ternlib import Server

PASSWORDS = {
    "alice@localhost": "alice-secret-1",
    "bob@localhost": "bob-Secret-2",
}

# The 'hostile' fixture's accounts: alice and bob chat honestly, mallory
# attacks, carol is her victim.
HOSTILE_USERS = dict(PASSWORDS, **{
    "mallory@localhost": "mallory-Secret-3",
    "carol@localhost": "carol-secret-4",
})


def pytest_report_header(config):
    return ["ternd: %s" % ternlib.TERND, "ternctl: %s" % ternlib.TERNCTL]


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    return ternlib.make_cert(str(d))


@pytest.fixture(scope="session")
def binaries():
    missing = [p for p in (ternlib.TERND, ternlib.TERNCTL)
               if not os.access(p, os.X_OK)]
    if missing:
        pytest.fail("not built (set TERND / TERNCTL or build first): "
                    + ", ".join(missing), pytrace=False)


@pytest.fixture
def make_server(tmp_path, certs, binaries, request):
    """make_server(extra_conf="", users=PASSWORDS, start=True) -> Server.

    Every server made here is stopped at teardown; a crash, a sanitizer
    report or an unclean SIGTERM exit fails the test there."""
    made = []

    def make(extra_conf="", users=None, start=True, name=None,
             host_conf=""):
        d = tmp_path / (name or "srv%d" % len(made))
        d.mkdir()
        srv = Server(d, certs[0], certs[1], extra_conf=extra_conf,
                     users=PASSWORDS if users is None else users,
                     host_conf=host_conf)
        made.append(srv)
        request.node._tern_servers = made
        if start:
            srv.start()
        return srv

    yield make
    problems = []
    for srv in made:
        for p in srv.stop():
            problems.append("%s\n%s" % (p, srv.log_tail()))
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def hostile(make_server):
    """hostile(extra_conf="") -> ternlib.Arena: a running ternd with the
    HOSTILE_USERS, on which alice and bob (slixmpp, in a thread) keep
    chatting while the test attacks; the test ends with
    arena.verify(rss_mib) (every honest message arrived, a new login
    works, peak RSS within rss_mib MiB of the RSS before the attack)."""
    arenas = []

    def make(extra_conf="", host_conf=""):
        srv = make_server(extra_conf, users=HOSTILE_USERS, start=False,
                          host_conf=host_conf)
        if ternlib.asan_build():
            # Freed memory waits in ASan's quarantine (256 MiB by
            # default) and would count as growth: keep it small.
            opts = os.environ.get("ASAN_OPTIONS", "")
            srv.env = dict(os.environ, ASAN_OPTIONS=(
                opts + ":" if opts else "") + "quarantine_size_mb=%d"
                % ternlib.Arena.ASAN_QUARANTINE_MIB)
        srv.start()
        honest = ternlib.HonestChat(srv, [
            (jid, HOSTILE_USERS[jid])
            for jid in ("alice@localhost", "bob@localhost")])
        try:
            honest.start()
        except BaseException:
            honest.close()
            raise
        arena = ternlib.Arena(srv, honest, ("carol",
                                            HOSTILE_USERS["carol@localhost"]))
        arenas.append(arena)
        return arena

    yield make
    for arena in arenas:
        arena.honest.close()


@pytest.fixture
def server(make_server):
    """A running ternd with alice and bob (see PASSWORDS)."""
    return make_server()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and rep.when == "call":
        for srv in getattr(item, "_tern_servers", []):
            rep.sections.append(("ternd log %s" % srv.dir, srv.log_tail()))
