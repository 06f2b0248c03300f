"""Privilege drop (`user`/`group`) and the systemd unit in conf/ (issue 5).

ternd starts as root, binds its ports, then runs as the configured user;
the data directory is created and written by that user only, ternctl run
as root works as that user too, and a data directory the user cannot
write stops ternd with a message that says how to fix it."""

import os
import pwd
import re
import shutil
import subprocess
import tempfile

import pytest

from ternlib import WAIT, RawStream, Server, ServerDied

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

needs_root = pytest.mark.skipif(os.geteuid() != 0,
                                reason="privilege drop needs root")


def status_ids(pid):
    with open("/proc/%d/status" % pid) as f:
        text = f.read()
    uid = re.search(r"^Uid:\s+(\d+)\s+(\d+)\s+(\d+)", text, re.M).groups()
    gid = re.search(r"^Gid:\s+(\d+)\s+(\d+)\s+(\d+)", text, re.M).groups()
    groups = re.search(r"^Groups:\s*(.*)$", text, re.M).group(1).split()
    return {int(u) for u in uid}, {int(g) for g in gid}, groups


@pytest.fixture
def nobody_dir():
    """A folder outside pytest's root-only tree, for the data dir."""
    d = tempfile.mkdtemp(prefix="tern-priv-")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def start_fails(srv):
    """Starts a ternd that must exit: it binds its ports before it drops
    privileges and opens the data directory, so the ports may answer
    briefly first.  Returns (exit status, log)."""
    try:
        srv.start()
    except ServerDied:
        pass
    rc = srv.wait_exit(WAIT)
    srv.expect_exit = True
    log = srv.log_text()
    srv.stop()
    return rc, log


def server_as(tmp_path, certs, data_dir, user="nobody", group="nogroup"):
    srv = Server(tmp_path, certs[0], certs[1], users={},
                 extra_conf='user "%s"; group "%s";' % (user, group),
                 host_conf="modules offline;")
    srv.data_dir = data_dir
    srv.write_conf()
    return srv


@needs_root
def test_runs_as_user_and_owns_its_data(tmp_path, certs, binaries,
                                        nobody_dir):
    nobody = pwd.getpwnam("nobody")
    data = os.path.join(nobody_dir, "data")
    os.mkdir(data, 0o700)
    os.chown(data, nobody.pw_uid, nobody.pw_gid)
    srv = server_as(tmp_path, certs, data)
    # ternctl as root works as `user`: the files it creates are nobody's.
    srv.adduser("alice@localhost", "alice-secret-1")
    srv.adduser("bob@localhost", "bob-Secret-2")
    try:
        srv.start()
        uids, gids, groups = status_ids(srv.pid)
        assert uids == {nobody.pw_uid}, uids
        assert gids == {nobody.pw_gid}, gids
        assert groups == [str(nobody.pw_gid)], groups
        assert srv.wait_log(r"running as user nobody")
        # It works: a login, and an offline message written to LMDB.
        a = RawStream(srv.c2s_port)
        a.login("alice", "alice-secret-1")
        a.send("<message to='bob@localhost' type='chat' id='m1'>"
               "<body>stored by nobody</body></message>")
        a.send("<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>")
        while True:
            el = a.next()
            assert el is not None, a.transcript()
            if el.get("id") == "p":
                break
        a.close()
        b = RawStream(srv.c2s_port)
        b.login("bob", "bob-Secret-2")
        b.send("<presence/>")
        bodies = []
        for _ in range(10):
            el = b.poll(3)
            if el is None:
                break
            body = el.find("{jabber:client}body")
            if body is not None:
                bodies.append(body.text)
                break
        assert bodies == ["stored by nobody"], b.transcript()
        b.close()
        for name in os.listdir(data):
            st = os.stat(os.path.join(data, name))
            assert st.st_uid == nobody.pw_uid, name
    finally:
        problems = srv.stop()
    assert not problems, problems


@needs_root
def test_unwritable_data_dir_says_how_to_fix(tmp_path, certs, binaries,
                                             nobody_dir):
    # Root owns the folder and its mode lets nobody in but not write.
    data = os.path.join(nobody_dir, "data")
    os.mkdir(data, 0o755)
    srv = server_as(tmp_path, certs, data)
    rc, msg = start_fails(srv)
    assert rc == 1, msg
    assert re.search(r"cannot open the data directory %s as user nobody: "
                     r"it must exist and belong to nobody \(chown -R "
                     r"nobody " % re.escape(data), msg), msg
    assert "Permission denied" in msg, msg


@needs_root
def test_unknown_user_refused(tmp_path, certs, binaries, nobody_dir):
    srv = server_as(tmp_path, certs, os.path.join(nobody_dir, "data"),
                    user="no-such-user-tern")
    rc, msg = start_fails(srv)
    assert rc == 1, msg
    assert "user no-such-user-tern: no such user" in msg


def test_systemd_unit_verifies_and_is_hardened(tmp_path, binaries):
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.fail("systemd-analyze not installed (package systemd)")
    from ternlib import TERND
    unit = open(os.path.join(ROOT, "conf", "ternd.service")).read()
    assert "ExecStart=/usr/local/sbin/ternd -d " in unit
    unit = unit.replace("/usr/local/sbin/ternd", os.path.abspath(TERND))
    path = tmp_path / "ternd.service"
    path.write_text(unit)
    man = tmp_path / "man"
    for sec, page in (("8", "ternd.8"), ("5", "tern.conf.5")):
        (man / ("man" + sec)).mkdir(parents=True, exist_ok=True)
        shutil.copy(os.path.join(ROOT, "man", page), man / ("man" + sec))
    env = dict(os.environ, MANPATH=str(man), SYSTEMD_LOG_LEVEL="err")
    r = subprocess.run([tool, "verify", str(path)], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([tool, "security", "--offline=yes", str(path)],
                       env=env, capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for ternd.service: ([0-9.]+)",
                  r.stdout + r.stderr)
    assert m, r.stdout + r.stderr
    # systemd's scale: 0 (locked down) to 10 (UNSAFE); below 3 is "OK".
    assert float(m.group(1)) < 3.0, r.stdout
