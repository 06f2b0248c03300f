"""tern-bench against a live ternd: every scenario with small numbers, and
the JSON result line checked, so CI proves the load generator works (and
that it counts failures instead of hiding them).

tern-bench is taken from TERN_BENCH, else from beside TERNCTL (both are
built in tools/)."""

import json
import os
import signal
import subprocess
import time

import pytest

import ternlib

BENCH = os.environ.get("TERN_BENCH", os.path.join(
    os.path.dirname(ternlib.TERNCTL), "tern-bench"))
HOST_CONF = ("modules ping roster presence register; register_allow yes; "
             "register_interval 0;")
EXTRA_CONF = "allow_plaintext_loopback yes; max_connections_per_address 0;"


def documented(directive):
    """Whether this checkout's ternd knows a directive: the conf unit test
    keeps man/tern.conf.5 complete."""
    with open(os.path.join(ternlib.REPO, "man", "tern.conf.5")) as f:
        return (".It Ic %s " % directive) in f.read()


# Saturation sends faster than a client should: lift the per-session
# stanza rate limit where this ternd has one.
if documented("max_stanza_rate"):
    EXTRA_CONF += " max_stanza_rate 0;"
N = 20
RUN_TIMEOUT = 90        # seconds any one tern-bench run may take


@pytest.fixture
def bench_server(make_server):
    if not os.access(BENCH, os.X_OK):
        pytest.fail("tern-bench not built: %s" % BENCH, pytrace=False)
    return make_server(extra_conf=EXTRA_CONF, host_conf=HOST_CONF, users={})


def bench(srv, scenario, *args, tls="starttls", expect_rc=0):
    """Runs tern-bench with --json; (result dict, stderr)."""
    port = srv.tls_port if tls == "direct" else srv.c2s_port
    cmd = [BENCH, "--port", str(port), "--tls", tls, "--json",
           "--deadline", "60"] + [str(a) for a in args] + [scenario]
    p = subprocess.run(cmd, capture_output=True, text=True,
                       timeout=RUN_TIMEOUT)
    assert p.returncode == expect_rc, (cmd, p.returncode, p.stderr)
    lines = [ln for ln in p.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1, p.stdout + p.stderr
    return json.loads(lines[0]), p.stderr


def register(srv, n=N, first=1):
    r, err = bench(srv, "register", "--accounts", n, "--first", first)
    assert r["ok"] == n and r["failed"] == 0, err
    return r


def assert_clean(r, err):
    assert r["errors"] == {}, err
    assert r["failed"] == 0, err


def test_register_and_login_every_tls_and_mechanism(bench_server):
    srv = bench_server
    r = register(srv)
    assert r["scenario"] == "register" and r["rate_per_s"] > 0
    cases = [("starttls", "SCRAM-SHA-256"), ("starttls", "SCRAM-SHA-1"),
             ("starttls", "PLAIN"), ("direct", "SCRAM-SHA-256"),
             ("direct", "PLAIN"), ("none", "SCRAM-SHA-1"),
             ("none", "SCRAM-SHA-256")]
    for tls, mech in cases:
        r, err = bench(srv, "login", "--accounts", N, "--concurrency", 7,
                       "--mech", mech, "--label", "tern", tls=tls)
        assert_clean(r, err)
        assert r["ok"] == N, (tls, mech, err)
        assert (r["tls"], r["mech"], r["label"]) == (tls, mech, "tern")
        assert r["rate_per_s"] > 0 and r["elapsed_s"] > 0
        lat = r["latency_ms"]
        assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
        assert isinstance(r["client_bound"], bool)


def test_scram_cache_file(bench_server, tmp_path):
    """Salted passwords kept across runs: the second run reads them (and
    would fail the server's signature check if they were wrong)."""
    srv = bench_server
    register(srv, n=10)
    cache = tmp_path / "scram.cache"
    for mech in ("SCRAM-SHA-256", "SCRAM-SHA-1", "SCRAM-SHA-256"):
        r, err = bench(srv, "login", "--accounts", 10, "--mech", mech,
                       "--scram-cache", cache)
        assert_clean(r, err)
        assert r["ok"] == 10
    lines = cache.read_text().splitlines()
    assert len(lines) == 20, lines      # 10 accounts x 2 hashes, no repeats
    assert all(len(ln.split()) == 5 for ln in lines)
    assert oct(cache.stat().st_mode & 0o777) == "0o600"


def test_register_existing_and_wrong_password_are_counted(bench_server):
    srv = bench_server
    register(srv, n=5)
    r, _ = bench(srv, "register", "--accounts", 5)
    assert r["ok"] == 0 and r["failed"] == 5
    assert r["errors"] == {"register:conflict": 5}
    r, _ = bench(srv, "login", "--accounts", 5, "--password", "wrong")
    assert r["ok"] == 0 and r["failed"] == 5
    assert r["errors"] == {"sasl:not-authorized": 5}
    # accounts that do not exist fail the same way, never crash
    r, _ = bench(srv, "login", "--accounts", 3, "--first", 900)
    assert r["ok"] == 0 and r["errors"] == {"sasl:not-authorized": 3}


def test_idle_memory_and_check(bench_server):
    srv = bench_server
    register(srv)
    r, err = bench(srv, "idle", "--accounts", N, "--duration", 2,
                   "--server-pid", srv.pid)
    assert_clean(r, err)
    assert r["ok"] == N and r["lost"] == 0
    assert r["elapsed_s"] >= 2
    assert r["server_rss_kib_before"] > 0
    assert r["server_rss_kib_after"] >= r["server_rss_kib_before"]
    assert "kib_per_session" in r and r["kib_per_session"] >= 0
    assert r["server_cpu_s"] >= 0


def test_idle_sessions_lost_when_the_server_stops(bench_server, tmp_path):
    srv = bench_server
    register(srv, n=10)
    cmd = [BENCH, "--port", str(srv.c2s_port), "--json", "--accounts", "10",
           "--duration", "6", "--deadline", "60", "idle"]
    errpath = tmp_path / "bench.err"
    with open(errpath, "w") as errf:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf,
                             text=True)
        try:
            deadline = time.monotonic() + 30
            while "setup done" not in errpath.read_text():
                assert time.monotonic() < deadline, errpath.read_text()
                assert p.poll() is None, errpath.read_text()
                time.sleep(0.1)
            assert "10 sessions up" in errpath.read_text()
            srv.expect_exit = True
            srv.signal(signal.SIGTERM)
            assert srv.wait_exit(ternlib.WAIT) == 0
            out, _ = p.communicate(timeout=RUN_TIMEOUT)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    err = errpath.read_text()
    assert p.returncode == 0, err
    r = json.loads(out)
    assert r["ok"] == 0 and r["lost"] == 10, err
    assert sum(r["errors"].values()) == 10, r["errors"]


def test_messages_closed_loop(bench_server):
    srv = bench_server
    register(srv)
    r, err = bench(srv, "messages", "--pairs", N // 2, "--duration", 2,
                   "--window", 4, "--server-pid", srv.pid)
    assert_clean(r, err)
    assert r["ok"] == N and r["pairs"] == N // 2 and r["rate_target"] == 0
    assert r["sent"] > 0 and r["delivered"] == r["sent"]
    assert r["lost"] == 0 and r["sessions_lost"] == 0
    assert r["rate_per_s"] > 0
    assert set(r["latency_ms"]) == {"p50", "p90", "p99", "max"}
    assert r["server_cpu_s"] >= 0 and "server_cpu_s_per_100k" in r


def test_messages_open_loop_rate(bench_server):
    srv = bench_server
    register(srv)
    r, err = bench(srv, "messages", "--pairs", N // 2, "--duration", 2,
                   "--rate", 200)
    assert_clean(r, err)
    assert r["rate_target"] == 200
    assert 360 <= r["sent"] <= 440, r
    assert r["delivered"] == r["sent"] and r["lost"] == 0
    assert 150 <= r["rate_per_s"] <= 250, r


def test_presence_waves(bench_server):
    srv = bench_server
    register(srv)
    r, err = bench(srv, "presence", "--accounts", N, "--contacts", 4,
                   "--duration", 2, "--wave", 5)
    assert_clean(r, err)
    assert r["contacts"] == 4 and r["lost"] == 0
    assert r["ok"] >= 5             # at least one wave logged in again
    # a wave of 5 sends at least 4 unavailable + 4 available each
    assert r["delivered"] >= 5 * 8
    assert r["rate_per_s"] > 0


def test_processes_and_source_addresses(bench_server):
    srv = bench_server
    register(srv)
    r, err = bench(srv, "login", "--accounts", N, "--processes", 3,
                   "--sources", 3)
    assert_clean(r, err)
    assert r["ok"] == N and r["processes"] == 3
    r, err = bench(srv, "messages", "--pairs", 5, "--processes", 2,
                   "--duration", 1)
    assert_clean(r, err)
    assert r["ok"] == 10 and r["delivered"] == r["sent"] > 0


def test_bad_options_and_no_server(bench_server):
    srv = bench_server
    for args, word in ((["--accounts", "x", "login"], "--accounts"),
                       (["--accounts", "3", "--host", "192.0.2.1", "login"],
                        "--allow-remote"),
                       (["--accounts", "3", "--tls", "maybe", "login"],
                        "--tls"),
                       (["--accounts", "3", "--user-pattern", "u", "login"],
                        "--user-pattern"),
                       (["--accounts", "3", "fly"], "fly"),
                       (["login"], "--accounts")):
        p = subprocess.run([BENCH] + args, capture_output=True, text=True,
                           timeout=RUN_TIMEOUT)
        assert p.returncode == 1, (args, p.stderr)
        assert word in p.stderr, (args, p.stderr)
    port = ternlib.free_port()
    p = subprocess.run([BENCH, "--port", str(port), "--accounts", "3",
                        "--json", "login"], capture_output=True, text=True,
                       timeout=RUN_TIMEOUT)
    assert p.returncode == 2, p.stderr
    r = json.loads(p.stdout)
    assert r["errors"] == {"connection-refused": 3}
    assert srv.alive()
