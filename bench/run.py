#!/usr/bin/python3
"""The one benchmark command: starts ternd, Prosody (default and tuned) and
ejabberd (default and tuned) in turn, each from a config in a temporary
folder on its own loopback port, creates the same accounts on each, runs
the same tern-bench scenarios against each, repeats each scenario, and
writes the side-by-side tables to bench/RESULTS.md.  --scale measures
ternd alone holding 19,000 idle TLS sessions.  See bench/README.md."""

import argparse
import atexit
import datetime
import json
import os
import platform
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import servers  # noqa: E402
import xmppc  # noqa: E402

TOP = os.path.dirname(HERE)
DEFAULT_BENCH = os.environ.get("TERN_BENCH", os.path.join(
    TOP, "build", "tools", "tern-bench"))
PASSWORD = "bench"

# Sizes: (full, --quick).
SIZES = {
    "login_accounts": (2000, 200),
    "idle_sessions": (10000, 400),
    "idle_hold_s": (30, 3),
    "pairs": (50, 10),
    "msg_duration_s": (20, 3),
    "presence_accounts": (1000, 100),
    "contacts": (10, 4),
    "scale_sessions": (19000, 1000),
    "scale_hold_s": (300, 10),
}

# Metrics: (key, column title, format, higher is better).
M_LOGIN = [("rate_per_s", "logins/s", "{:,.0f}", True),
           ("server_cpu_ms_per_op", "server CPU ms/login", "{:.2f}", False)]
M_IDLE = [("kib_per_session", "KiB/session", "{:.1f}", False),
          ("lost", "lost", "{:.0f}", False)]
M_MSG = [("rate_per_s", "delivered/s", "{:,.0f}", True),
         ("server_cpu_s_per_100k", "server CPU s/100k", "{:.2f}", False),
         ("p50", "p50 ms", "{:.2f}", False),
         ("p99", "p99 ms", "{:.2f}", False),
         ("lost", "lost", "{:.0f}", False)]
M_PRES = [("rate_per_s", "presence stanzas/s", "{:,.0f}", True)]

# Scenario key -> title, tern-bench scenario, fixed options, metrics,
# whether each repetition gets a freshly started server (idle: so that
# the RSS baseline is the same each time).
SCENARIOS = {
    "login-notls": ("Logins, no TLS", "login", {"tls": "none"}, M_LOGIN,
                    False),
    "login-tls": ("Logins, STARTTLS", "login", {"tls": "starttls"},
                  M_LOGIN, False),
    "idle-notls": ("Idle sessions, no TLS", "idle", {"tls": "none"}, M_IDLE,
                   True),
    "idle-tls": ("Idle sessions, STARTTLS", "idle", {"tls": "starttls"},
                 M_IDLE, True),
    "msg-sat": ("Routed 1:1 messages at saturation (STARTTLS)", "messages",
                {"tls": "starttls", "rate": 0}, M_MSG, False),
    "msg-1000": ("Routed 1:1 messages at 1,000/s (STARTTLS)", "messages",
                 {"tls": "starttls", "rate": 1000}, M_MSG, False),
    "presence": ("Presence: logins and logouts with rosters (STARTTLS)",
                 "presence", {"tls": "starttls"}, M_PRES, False),
}

# A run's block in RESULTS.md sits between markers naming its scenarios:
# a run of the same scenarios replaces it, a run of all of them replaces
# every earlier block.
BEGIN = "<!-- bench/run.py: begin %s -->"
END = "<!-- bench/run.py: end %s -->"
SBEGIN = "<!-- bench/run.py --scale: begin -->"
SEND = "<!-- bench/run.py --scale: end -->"
EARLIER = "## Earlier measurements"


class Interrupted(Exception):
    pass


def on_term(signum, frame):
    raise Interrupted("signal %d" % signum)


def log(msg):
    sys.stderr.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stderr.flush()


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def cpu_s(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf(
            "SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class Bench:
    """Runs tern-bench and keeps every JSON line."""

    def __init__(self, binary, jsonl):
        self.binary = binary
        self.jsonl = jsonl
        self.proc = None
        # tern-bench keeps the SCRAM salted passwords it computed, one
        # file per server, so that its own PBKDF2 (a fresh salt per
        # account on tern and ejabberd) does not cap the login rates it
        # measures; the first run against a server fills it.
        self.cachedir = tempfile.mkdtemp(prefix="tern-bench-scram-")
        atexit.register(shutil.rmtree, self.cachedir, True)

    def run(self, srv, scenario, opts, deadline, extra):
        cmd = [self.binary, "--port", str(srv.port), "--domain",
               servers.DOMAIN, "--label", srv.label, "--password", PASSWORD,
               "--server-pid", str(srv.pid), "--deadline", str(deadline),
               "--json"]
        for k, v in opts.items():
            cmd += ["--" + k, str(v)]
        if scenario != "register":
            cmd += ["--scram-cache", os.path.join(self.cachedir, srv.label)]
        cmd.append(scenario)
        log("  " + " ".join(shlex.quote(c) for c in cmd))
        load = loadavg()
        t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        try:
            out, err = self.proc.communicate(timeout=deadline + 60)
        except subprocess.TimeoutExpired:
            self.kill()
            out, err = self.proc.communicate()
            err += "\nrun.py: tern-bench killed after %ds" % (deadline + 60)
        finally:
            rc = self.proc.returncode
            self.proc = None
        results = []
        for line in out.splitlines():
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                r = json.loads(line)
            except ValueError:
                continue
            r.update(extra)
            r["bench_cmd"] = cmd
            r["bench_exit"] = rc
            r["bench_wall_s"] = round(time.monotonic() - t0, 3)
            r["bench_loadavg"] = load
            results.append(r)
        if not results:
            results.append(dict(extra, bench_cmd=cmd, bench_exit=rc,
                                bench_error=err.strip()[-2000:]))
        with open(self.jsonl, "a") as f:
            for r in results:
                f.write(json.dumps(r, sort_keys=True) + "\n")
        if rc != 0 or "bench_error" in results[0]:
            log("  tern-bench exit %s: %s" % (rc, err.strip()[-800:]))
        return results, rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()


def metric(r, key):
    if key in ("p50", "p99"):
        v = (r.get("latency_ms") or {}).get(key)
    elif key == "server_cpu_ms_per_op":
        ok = r.get("ok") or 0
        v = (1000.0 * r["server_cpu_s"] / ok
             if ok and r.get("server_cpu_s") is not None else None)
    elif key == "lost":
        v = r.get("lost", r.get("sessions_lost"))
    else:
        v = r.get(key)
    return v if isinstance(v, (int, float)) else None


def accounts_needed(sz, scenarios):
    """Accounts registered on every server: bench1 .. benchN where N covers
    the selected scenarios; presence takes the last presence_accounts, so
    that the rosters it sets up stay away from the other scenarios."""
    used = {"login": sz["login_accounts"], "idle": sz["idle_sessions"],
            "messages": 2 * sz["pairs"], "presence": 0}
    n = max([used[SCENARIOS[k][1]] for k in scenarios] + [1])
    if any(SCENARIOS[k][1] == "presence" for k in scenarios):
        n += sz["presence_accounts"]
    return n


def bench_opts(key, sz, mech):
    title, scen, fixed, metrics, fresh = SCENARIOS[key]
    o = {"mech": mech, "tls": fixed["tls"]}
    if scen == "login":
        o.update(accounts=sz["login_accounts"], concurrency=50)
        deadline = 60 + sz["login_accounts"] // 20
    elif scen == "idle":
        o.update(accounts=sz["idle_sessions"], concurrency=50,
                 duration=sz["idle_hold_s"])
        deadline = 60 + sz["idle_hold_s"] + sz["idle_sessions"] // 20
    elif scen == "messages":
        o.update(pairs=sz["pairs"], rate=fixed["rate"],
                 duration=sz["msg_duration_s"])
        deadline = 120 + sz["msg_duration_s"]
    else:
        o.update(accounts=sz["presence_accounts"], contacts=sz["contacts"],
                 first=sz["accounts"] - sz["presence_accounts"] + 1,
                 concurrency=50)
        deadline = 120 + sz["presence_accounts"] // 5
    return o, deadline


class Runner:
    def __init__(self, args):
        self.args = args
        self.sz = {k: v[1 if args.quick else 0] for k, v in SIZES.items()}
        self.sz["accounts"] = accounts_needed(self.sz, args.scenarios)
        stamp = datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ")
        os.makedirs(args.results_dir, exist_ok=True)
        self.jsonl = os.path.join(args.results_dir, "%s%s%s.jsonl" % (
            stamp, "-scale" if args.scale else "",
            "-quick" if args.quick else ""))
        self.bench = Bench(args.tern_bench, self.jsonl)
        self.results = {}      # (label, scenario) -> [result, ...]
        self.info = {}         # label -> dict(version, mech, settings, note)
        self.order = []
        self.current = None
        self.failed = []       # labels that failed to start or died

    # -- one server ---------------------------------------------------

    def start(self, srv):
        srv.start(timeout=90)
        log("%s: pid %d, port %d" % (srv.label, srv.pid, srv.port))

    def restart(self, srv, settle=0):
        srv.stop()
        srv.start(timeout=90)
        # Let a fresh server finish starting (ejabberd loads modules and
        # Mnesia tables after it answers) before its RSS is the baseline.
        deadline = time.monotonic() + settle
        while time.monotonic() < deadline:
            busy = self.busy(srv)
            if busy is not None and busy < 0.05:
                break

    def register(self, srv, mech):
        n = self.sz["accounts"]
        res, rc = self.bench.run(
            srv, "register", {"accounts": n, "concurrency": 50,
                              "tls": "starttls", "mech": mech},
            120 + n // 10, {"bench_server": srv.label,
                            "bench_scenario": "register", "bench_rep": 0})
        r = res[0]
        self.results[(srv.label, "register")] = res
        if r.get("ok", 0) < n:
            raise RuntimeError("registered %s of %d accounts (%s)" % (
                r.get("ok"), n, r.get("errors") or r.get("bench_error")))
        log("%s: %d accounts registered at %.0f/s" % (
            srv.label, n, r.get("rate_per_s") or 0))

    def unwell(self, srv):
        """Why the idle server is not fit for the next run (None if it
        is): it burns CPU with no client, or does not answer a stream."""
        # A server may still be settling (ejabberd right after start, an
        # Erlang VM after a burst): only three busy seconds in a row count.
        for _ in range(3):
            busy = self.busy(srv)
            if busy is None or busy <= 0.2:
                break
        else:
            return "used %.0f%% CPU" % (100 * busy)
        try:
            xmppc.mechanisms(srv.port, tls=False, timeout=5)
        except (OSError, xmppc.XMPPError) as e:
            return "did not answer a new stream (%s)" % e
        return None

    def busy(self, srv):
        """CPU the server burns in one second while no client is active (a
        server left spinning by the previous run distorts the next)."""
        c0 = cpu_s(srv.pid)
        time.sleep(1.0)
        c1 = cpu_s(srv.pid)
        return None if c0 is None or c1 is None else c1 - c0

    def run_server(self, cls, tuned, work, cert):
        srv = cls(work, cert, tuned=tuned)
        self.current = srv
        label = srv.label
        self.order.append(label)
        info = self.info[label] = {"version": srv.version(),
                                   "settings": srv.settings, "notes": []}
        try:
            try:
                self.start(srv)
            except servers.StartError as e:
                log("%s: FAILED TO START: %s" % (label, e))
                info["notes"].append("did not start: %s" % str(e).splitlines(
                )[0])
                self.failed.append(label)
                return
            mech = servers.mech_for(srv, self.args.mech, "SCRAM-SHA-1")
            if mech is None:
                info["notes"].append("offers neither %s nor SCRAM-SHA-1"
                                     % self.args.mech)
                return
            info["mech"] = mech
            self.register(srv, mech)
            for key in self.args.scenarios:
                for rep in range(1, self.args.repeat + 1):
                    if not self.one(srv, key, rep, mech):
                        return
        except RuntimeError as e:
            log("%s: %s\n%s" % (label, e, srv.log_tail()))
            info["notes"].append(str(e))
            self.failed.append(label)
        finally:
            srv.stop()
            self.current = None
            if not self.args.keep:
                srv.cleanup()

    def one(self, srv, key, rep, mech):
        title, scen, fixed, metrics, fresh = SCENARIOS[key]
        if fresh:
            self.restart(srv, settle=10)
        else:
            why = self.unwell(srv)
            if why:
                note = "before %s run %d the idle server %s; restarted it" % (
                    key, rep, why)
                log("%s: WARNING %s" % (srv.label, note))
                self.info[srv.label]["notes"].append(note)
                self.restart(srv)
        opts, deadline = bench_opts(key, self.sz, mech)
        log("%s: %s, run %d/%d" % (srv.label, key, rep, self.args.repeat))
        res, rc = self.bench.run(srv, scen, opts, deadline, {
            "bench_server": srv.label, "bench_scenario": key,
            "bench_rep": rep})
        self.results.setdefault((srv.label, key), []).extend(
            r for r in res if "scenario" in r)
        if not srv.alive():
            msg = "died during %s run %d" % (key, rep)
            log("%s: %s\n%s" % (srv.label, msg, srv.log_tail()))
            self.info[srv.label]["notes"].append(msg)
            self.failed.append(srv.label)
            return False
        return True

    # -- scale ----------------------------------------------------------

    def scale(self, work, cert):
        srv = servers.Ternd(work, cert)
        self.current = srv
        n, hold = self.sz["scale_sessions"], self.sz["scale_hold_s"]
        self.info[srv.label] = {"version": srv.version(),
                                "settings": srv.settings, "notes": []}
        try:
            self.start(srv)
            mech = servers.mech_for(srv, self.args.mech, "SCRAM-SHA-1")
            self.sz["accounts"] = n
            self.register(srv, mech)
            self.restart(srv)
            opts = {"mech": mech, "tls": "starttls", "accounts": n,
                    "concurrency": 50, "duration": hold,
                    "processes": max(2, self.args.processes),
                    "sources": self.args.sources}
            res, rc = self.bench.run(srv, "idle", opts,
                                     hold + 120 + n // 20,
                                     {"bench_server": srv.label,
                                      "bench_scenario": "scale",
                                      "bench_rep": 1})
            self.results[(srv.label, "scale")] = [r for r in res
                                                  if "scenario" in r]
            self.info[srv.label]["mech"] = mech
            if not srv.alive():
                self.failed.append(srv.label)
                return {"bench_error": "ternd died during the run\n" +
                        srv.log_tail()}
            return res[0]
        except (servers.StartError, RuntimeError) as e:
            self.failed.append(srv.label)
            log("scale: %s\n%s" % (e, srv.log_tail()))
            return {"bench_error": str(e).splitlines()[0]}
        finally:
            srv.stop()
            self.current = None
            if not self.args.keep:
                srv.cleanup()

    def stop_all(self):
        self.bench.kill()
        if self.current is not None:
            self.current.stop()


# -- report -------------------------------------------------------------

def sh(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except OSError:
        return "?"


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) / 1024 / 1024
    osname = "?"
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    osname = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return ("%d cores (%s), %.1f GiB memory, kernel %s, %s, %s; "
            "descriptor limit %d per process" % (
                os.cpu_count(), model, mem, platform.release(), osname,
                sh(["openssl", "version"]),
                resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


def shown_path(p):
    p = os.path.abspath(p)
    return os.path.relpath(p, TOP) if p.startswith(TOP + os.sep) else p


def fmt(f, v):
    return "–" if v is None else f.format(v)


def summary(runs, key):
    vals = [metric(r, key) for r in runs]
    vals = [v for v in vals if v is not None]
    if not vals:
        return None, None, None
    return statistics.median(vals), min(vals), max(vals)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "–"
    return "%.2f" % (a / b)


def scenario_table(runner, key):
    title, scen, fixed, metrics, fresh = SCENARIOS[key]
    sz = runner.sz
    opts, _ = bench_opts(key, sz, "M")
    desc = ", ".join("%s %s" % (k, v) for k, v in opts.items()
                     if k not in ("mech",))
    out = ["### %s" % title, "",
           "tern-bench %s: %s; %d runs each.  Each cell: median "
           "(min–max)." % (scen, desc, runner.args.repeat), ""]
    head = "| server | mech | runs ok |" + "".join(
        " %s |" % m[1] for m in metrics)
    out += [head, "|---" * (3 + len(metrics)) + "|"]
    med = {}
    for label in runner.order:
        runs = runner.results.get((label, key), [])
        info = runner.info[label]
        mech = info.get("mech", "–")
        if mech != runner.args.mech and mech != "–":
            mech += " (fallback)"
        okruns = [r for r in runs if r.get("ok")]
        cells = []
        for m in metrics:
            md, lo, hi = summary(okruns, m[0])
            med[(label, m[0])] = md
            cells.append("–" if md is None else "%s (%s–%s)" % (
                fmt(m[2], md), fmt(m[2], lo), fmt(m[2], hi)))
        flags = ""
        if any(r.get("client_bound") for r in runs):
            flags = " †"
        fails = sum(r.get("failed", 0) or 0 for r in runs)
        lost = sum(metric(r, "lost") or 0 for r in runs)
        out.append("| %s%s | %s | %d/%d%s |%s" % (
            label, flags, mech, len(okruns), runner.args.repeat,
            (", %d failed" % fails if fails else "") +
            (", %d lost" % lost if lost and ("lost", "lost", "{:.0f}",
                                             False) not in metrics else ""),
            "".join(" %s |" % c for c in cells)))
    peers = [l for l in runner.order if l != "tern"]
    if "tern" in runner.order and peers:
        hi = [m[1] for m in metrics if m[3]]
        lo = [m[1] for m in metrics if not m[3] and m[0] != "lost"]
        how = "; ".join(x for x in (
            hi and "for %s above 1 favours tern" % " and ".join(hi),
            lo and "for %s below 1 does" % " and ".join(lo)) if x)
        out += ["", "Ratios tern / peer (medians; %s):" % how, "",
                "| metric |" + "".join(" tern/%s |" % p for p in peers),
                "|---" * (1 + len(peers)) + "|"]
        for m in metrics:
            if m[0] == "lost":
                continue
            out.append("| %s |" % m[1] + "".join(
                " %s |" % ratio(med[("tern", m[0])], med[(p, m[0])])
                for p in peers))
    out.append("")
    return out


def block_key(a):
    """The marker of a run's block: its scenarios, and its servers when
    not all of them (so that a run of tern alone does not replace the
    side-by-side tables)."""
    key = ",".join(a.scenarios)
    if set(a.servers) != set(servers.KINDS):
        key += " servers=" + ",".join(a.servers)
    return key


def complete_run(a):
    return (set(a.scenarios) == set(SCENARIOS) and
            set(a.servers) == set(servers.KINDS))


def report(runner, argv, started, elapsed, pending=None):
    a = runner.args
    key = block_key(a)
    title = ("Side by side: tern, Prosody, ejabberd"
             if set(a.servers) == set(servers.KINDS) else
             "Servers: " + ", ".join(a.servers))
    lines = [BEGIN % key, "## %s (bench/run.py, %s UTC)" % (
             title, started.strftime("%Y-%m-%d %H:%M")), ""]
    if a.quick:
        lines += ["**--quick smoke run: sizes too small for the figures "
                  "to mean much; run without --quick for the real "
                  "comparison.**", ""]
    if pending:
        lines += ["**Partial: written while the run went on; not measured "
                  "(yet, or the run was stopped): %s.**" % ", ".join(
                      pending), ""]
    lines += ["Command: `%s` (took %.0f min)" % (" ".join(
        shlex.quote(x) for x in argv), elapsed / 60), "",
        "Machine: %s; load generator (tern-bench, one process) on the "
        "same machine." % machine(), "",
        "Raw results: `%s`" % shown_path(runner.jsonl), "",
        "| server | version | SASL | configuration |", "|---|---|---|---|"]
    for label in runner.order:
        i = runner.info[label]
        lines.append("| %s | %s | %s | %s |" % (
            label, i["version"], i.get("mech", "–"), i["settings"]))
    lines.append("")
    loads = [r.get("bench_loadavg") for runs in runner.results.values()
             for r in runs if r.get("bench_loadavg") is not None]
    if loads:
        lines += ["Load average (1 min, including this benchmark's own "
                  "server and tern-bench, up to about 2) when each run "
                  "started: median %.1f, %.1f–%.1f on %d cores%s." % (
                      statistics.median(loads), min(loads), max(loads),
                      os.cpu_count(),
                      " — **other work shared the machine: the figures "
                      "are noisy**" if statistics.median(loads) > os.cpu_count() + 1
                      else ""),
                  ""]
    notes = [(l, n) for l in runner.order for n in runner.info[l]["notes"]]
    if notes:
        lines += ["Notes from the run:", ""]
        lines += ["- %s: %s" % (l, n) for l, n in notes]
        lines.append("")
    reg = []
    for label in runner.order:
        r = (runner.results.get((label, "register")) or [{}])[0]
        if "rate_per_s" in r:
            reg.append("%s %s/s" % (label, fmt("{:,.0f}", r["rate_per_s"])))
    if reg:
        lines += ["Account creation (in-band registration of %d accounts, "
                  "STARTTLS, 50 at once): %s." % (runner.sz["accounts"],
                                                   "; ".join(reg)), ""]
    if any(r.get("client_bound") for runs in runner.results.values()
           for r in runs):
        lines += ["† tern-bench reported itself client-bound (over 90% of "
                  "a core) in at least one run: the figure is a lower "
                  "bound.", ""]
    for key in a.scenarios:
        lines += scenario_table(runner, key)
    lines.append(END % key)
    return lines


def scale_report(runner, r, argv, started, elapsed):
    n = runner.sz["scale_sessions"]
    kib = r.get("kib_per_session")
    lines = [SBEGIN, "## Scale: ternd alone, %s idle STARTTLS sessions "
             "(bench/run.py --scale, %s UTC)" % (
                 "{:,}".format(n), started.strftime("%Y-%m-%d %H:%M")), ""]
    if runner.args.quick:
        lines += ["**--quick smoke run.**", ""]
    lines += ["Command: `%s` (took %.0f min)" % (" ".join(
        shlex.quote(x) for x in argv), elapsed / 60), "",
        "Machine: %s." % machine(), "",
        "Raw results: `%s`" % shown_path(runner.jsonl), ""]
    if "scenario" not in r:
        lines += ["The run failed: %s" % r.get("bench_error", "?"), SEND]
        return lines
    lines += [
        "| sessions held | hold | lost | server RSS before → after | "
        "KiB/session | server CPU | client CPU |",
        "|---|---|---|---|---|---|---|",
        "| %s of %s | %d s | %s | %s → %s KiB | %s | %s s | %s s |" % (
            "{:,}".format(r.get("ok", 0)), "{:,}".format(n),
            runner.sz["scale_hold_s"], r.get("lost", "?"),
            "{:,}".format(r.get("server_rss_kib_before", 0)),
            "{:,}".format(r.get("server_rss_kib_after", 0)),
            fmt("{:.1f}", kib), r.get("server_cpu_s", "?"),
            r.get("client_cpu_s", "?")), ""]
    if kib:
        base = r.get("server_rss_kib_before", 0) / 1024.0 / 1024.0
        need = base + kib * 1e6 / 1024 / 1024
        lines += ["Extrapolation: 1,000,000 such sessions need %.1f GiB "
                  "(%.1f KiB × 10^6 + %.2f GiB at start), %s a 64 GiB "
                  "host (%.0f%% of it); 64 GiB would hold about %s "
                  "sessions.  Linear extrapolation: it assumes memory "
                  "per session stays flat beyond %s, and counts ternd's "
                  "RSS only (the kernel's socket buffers come on top)." % (
                      need, kib, base,
                      "within" if need < 64 else "beyond",
                      100 * need / 64, "{:,.0f}".format(
                          (64 - base) * 1024 * 1024 / kib),
                      "{:,}".format(n)), ""]
    lines.append(SEND)
    return lines


def cut_blocks(text, begin_prefix, end_prefix, only=None):
    """text without the blocks between markers starting with the
    prefixes (only the one whose begin marker is `only` if given), and
    the offset where the first removed block was."""
    at = None
    pos = 0
    while True:
        i = text.find(only if only else begin_prefix, pos)
        if i < 0:
            return text, at
        j = text.find(end_prefix, i)
        if j < 0:
            return text, at
        k = text.find("-->", j)
        k = len(text) if k < 0 else k + 3
        text = text[:i] + text[k:].lstrip("\n")
        at = i if at is None else at
        pos = i


def splice(path, lines, begin_prefix, end_prefix, replace_all=False):
    """Put lines (a marked block) into path: in place of the block with the
    same begin marker (of every run.py block when replace_all), else
    before '## Earlier measurements', else at the end."""
    text = ""
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
    block = "\n".join(lines) + "\n\n"
    if replace_all:
        text, at = cut_blocks(text, begin_prefix, end_prefix)
    else:
        text, at = cut_blocks(text, begin_prefix, end_prefix, only=lines[0])
    if at is None and EARLIER in text:
        at = text.index(EARLIER)
    if at is None:
        if not text:
            text = "# tern measurements\n\n"
        text = text.rstrip("\n") + "\n\n" + block
    else:
        text = text[:at] + block + text[at:]
    with open(path, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="small numbers for a smoke run")
    ap.add_argument("--servers", default="tern,prosody,ejabberd",
                    help="comma-separated subset of tern,prosody,ejabberd")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS),
                    help="comma-separated subset of " + ",".join(SCENARIOS))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    ap.add_argument("--results-dir", default=os.path.join(HERE, "results"),
                    help="where the JSON lines of every run go")
    ap.add_argument("--tern-bench", default=DEFAULT_BENCH)
    ap.add_argument("--mech", default="SCRAM-SHA-256",
                    help="SASL mechanism (SCRAM-SHA-1 for a server without "
                    "it, marked)")
    ap.add_argument("--scale", action="store_true",
                    help="ternd alone, 19,000 idle TLS sessions held 5 min")
    ap.add_argument("--processes", type=int, default=2,
                    help="tern-bench worker processes in --scale")
    ap.add_argument("--sources", type=int, default=2,
                    help="loopback source addresses in --scale")
    ap.add_argument("--keep", action="store_true",
                    help="keep the servers' folders (configs, logs)")
    a = ap.parse_args()
    a.servers = [s for s in a.servers.split(",") if s]
    a.scenarios = [s for s in a.scenarios.split(",") if s]
    for s in a.servers:
        if s not in servers.KINDS:
            ap.error("unknown server %r (want %s)" % (
                s, ",".join(servers.KINDS)))
    for s in a.scenarios:
        if s not in SCENARIOS:
            ap.error("unknown scenario %r (want %s)" % (
                s, ",".join(SCENARIOS)))
    if a.repeat < 1 or a.repeat > 20:
        ap.error("--repeat wants 1 to 20")
    if not os.access(a.tern_bench, os.X_OK):
        ap.error("no tern-bench at %s (build it, or --tern-bench PATH)"
                 % a.tern_bench)
    if "tern" in a.servers or a.scale:
        if not os.access(servers.Ternd.binary, os.X_OK):
            ap.error("no ternd at %s (scripts/build build, or TERND=PATH)"
                     % servers.Ternd.binary)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    runner = Runner(a)
    argv = ["bench/run.py"] + sys.argv[1:]
    started = datetime.datetime.utcnow()
    t0 = time.monotonic()
    status = 0
    with tempfile.TemporaryDirectory(prefix="tern-bench-run-") as work:
        cert = servers.make_cert(work)
        try:
            if a.scale:
                r = runner.scale(work, cert)
                splice(a.out, scale_report(runner, r, argv, started,
                                           time.monotonic() - t0),
                       SBEGIN[:-4], SEND[:-4], replace_all=True)
            else:
                variants = list(servers.variants(a.servers))
                for i, (cls, tuned) in enumerate(variants):
                    runner.run_server(cls, tuned, work, cert)
                    # a long run keeps what it measured so far
                    pending = [c.kind + ("-tuned" if t else "")
                               for c, t in variants[i + 1:]]
                    splice(a.out, report(runner, argv, started,
                                         time.monotonic() - t0,
                                         pending=pending),
                           BEGIN[:-7], END[:-7],
                           replace_all=complete_run(a))
            log("wrote %s; raw results in %s (%.0f s)" % (
                a.out, runner.jsonl, time.monotonic() - t0))
            if runner.failed:
                log("failed: %s" % ", ".join(runner.failed))
                status = 1
        except (KeyboardInterrupt, Interrupted) as e:
            log("interrupted (%s): stopping the servers" % (
                str(e) or "Ctrl-C"))
            status = 130
        finally:
            runner.stop_all()
    return status


if __name__ == "__main__":
    sys.exit(main())
