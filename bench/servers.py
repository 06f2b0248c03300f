"""The servers bench/run.py measures: ternd, Prosody and ejabberd, each
started from a configuration written into its own temporary folder, on its
own free loopback port, with its own data directory, pid file and log.
None of them touches a system service, a system configuration or the
standard ports.

Each class: start(timeout) (raises StartError with the log's tail),
stop() (SIGTERM to the process group the server was started in, SIGKILL
after a bounded wait), pid (the process whose RSS and CPU are the
server's: ternd, the Lua interpreter of Prosody, beam.smp of ejabberd),
version(), settings (the text for the README/RESULTS) and log_tail().

All servers serve the domain "localhost" with the same self-signed
certificate (EC P-256), offer STARTTLS without requiring it (so that the
no-TLS rows are possible), allow in-band registration from loopback
without a rate limit, and have their traffic shapers lifted."""

import os
import pwd
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import xmppc

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
DOMAIN = "localhost"


class StartError(Exception):
    pass


def free_port():
    """A port free on 127.0.0.1 now, never 5222/5223/5269."""
    while True:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if port not in (5222, 5223, 5269, 5280, 5443):
            return port


def raise_nofile():
    """Every server gets the same descriptor limit: the hard one (20,000
    on the machines this was written on); 10,000 sessions do not fit in
    the usual soft limit of 1,024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def make_cert(directory):
    """Self-signed EC P-256 certificate for localhost; returns (crt, key,
    combined pem)."""
    crt = os.path.join(directory, "bench.crt")
    key = os.path.join(directory, "bench.key")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-days", "30", "-subj",
         "/CN=" + DOMAIN, "-addext", "subjectAltName=DNS:" + DOMAIN,
         "-keyout", key, "-out", crt],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        timeout=60)
    pem = os.path.join(directory, "bench.pem")
    with open(pem, "w") as out:
        for p in (crt, key):
            with open(p) as f:
                out.write(f.read())
    return crt, key, pem


class Server:
    """Common process handling; subclasses write the config and say how to
    run the server."""

    kind = "?"
    # In-band registration needs TLS on this server (tern: XEP-0077 is
    # offered over TLS only).
    register_tls = False

    def __init__(self, workdir, cert, tuned=False):
        self.tuned = tuned
        self.label = self.kind + ("-tuned" if tuned else "")
        self.dir = tempfile.mkdtemp(prefix=self.label + "-", dir=workdir)
        self.crt, self.key, self.pem = cert
        self.port = free_port()
        self.log_path = os.path.join(self.dir, self.label + ".out")
        self.proc = None
        self.logf = None

    # -- to be provided by subclasses --------------------------------

    def write_config(self):
        raise NotImplementedError

    def command(self):
        raise NotImplementedError

    def env(self):
        return None

    def popen_user(self):
        """(uid, gid) to run the server as, or None for ourselves."""
        return None

    def server_logs(self):
        """Log files the server writes itself, besides stdout/stderr."""
        return []

    # -- process ------------------------------------------------------

    def start(self, timeout=60):
        self.write_config()
        self.logf = open(self.log_path, "ab")
        ids = self.popen_user()
        extra = {} if ids is None else {"user": ids[0], "group": ids[1],
                                        "extra_groups": []}
        self.proc = subprocess.Popen(
            self.command(), cwd=self.dir, env=self.env(),
            stdin=subprocess.DEVNULL, stdout=self.logf,
            stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=raise_nofile, **extra)
        deadline = time.monotonic() + timeout
        err = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StartError("%s exited with status %s during start-up"
                                 "\n%s" % (self.label, self.proc.returncode,
                                           self.log_tail()))
            try:
                xmppc.mechanisms(self.port, tls=False, timeout=3)
                return
            except (OSError, xmppc.XMPPError) as e:
                err = str(e)
            time.sleep(0.3)
        self.stop()
        raise StartError("%s did not answer on port %d within %ds (%s)\n%s"
                         % (self.label, self.port, timeout, err,
                            self.log_tail()))

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=20):
        """SIGTERM, then SIGKILL to the whole process group (the server and
        whatever it started, e.g. erl_child_setup) after timeout."""
        if self.proc is None:
            return
        pgid = self.proc.pid   # start_new_session: group id == our pid
        if self.proc.poll() is None:
            try:
                os.killpg(pgid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        if self.logf:
            self.logf.close()
            self.logf = None

    def log_tail(self, lines=25):
        out = []
        for p in [self.log_path] + self.server_logs():
            try:
                with open(p, errors="replace") as f:
                    text = f.read().splitlines()[-lines:]
            except OSError:
                continue
            out.append("--- %s\n%s" % (p, "\n".join(text)))
        return "\n".join(out)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


# -- tern -------------------------------------------------------------

class Ternd(Server):
    kind = "tern"
    register_tls = True
    binary = os.environ.get("TERND", os.path.join(TOP, "build", "src",
                                                   "ternd"))
    modules = ("ping disco version time last vcard private register roster "
               "presence offline blocking")
    settings = ("all built-in modules (%s); max_connections_per_address 0; "
                "max_stanza_rate 0 (the flood limit, as ejabberd's c2s "
                "shaper none); "
                "register_allow yes; register_interval 0; "
                "allow_plaintext_loopback yes (no-TLS rows); log info to a "
                "file" % modules)

    def write_config(self):
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        self.conf = os.path.join(self.dir, "tern.conf")
        with open(self.conf, "w") as f:
            f.write(
                'data_dir "%(dir)s/data";\n'
                'pid_file "%(dir)s/ternd.pid";\n'
                'log info "%(dir)s/ternd.log";\n'
                'listen c2s "127.0.0.1:%(port)d";\n'
                "max_connections_per_address 0;\n"
                "max_stanza_rate 0;\n"
                "allow_plaintext_loopback yes;\n"
                'host "%(domain)s" {\n'
                '\tcertificate "%(crt)s" "%(key)s";\n'
                "\tmodules %(modules)s;\n"
                "\tregister_allow yes;\n"
                "\tregister_interval 0;\n"
                "}\n" % {"dir": self.dir, "port": self.port,
                         "domain": DOMAIN, "crt": self.crt, "key": self.key,
                         "modules": self.modules})

    def command(self):
        return [self.binary, "-f", self.conf, "-d"]

    def server_logs(self):
        return [os.path.join(self.dir, "ternd.log")]

    def version(self):
        try:
            r = subprocess.run([self.binary, "-V"], capture_output=True,
                               text=True, timeout=10)
            return (r.stdout or r.stderr).strip()
        except OSError as e:
            return "unknown (%s)" % e


# -- Prosody ----------------------------------------------------------

# Debian's /etc/prosody/prosody.cfg.lua modules_enabled, without "limits"
# (its 10kb/s c2s shaper is lifted, as every server's) and without the
# invites modules (they make registration invitation-only).
PROSODY_MODULES = (
    "disco roster saslauth tls blocklist bookmarks carbons dialback pep "
    "private smacks vcard4 vcard_legacy csi_simple ping register time "
    "uptime version admin_adhoc admin_shell posix").split()


def debian_version(pkg):
    try:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg],
                           capture_output=True, text=True, timeout=10)
        return r.stdout.strip() or "not installed"
    except OSError:
        return "unknown"


class Prosody(Server):
    kind = "prosody"
    binary = "/usr/bin/prosody"
    tuned_settings = ("network_settings = { nagle = false; "
                      "opportunistic_writes = true; tcp_backlog = 1024 }")

    @property
    def settings(self):
        s = ("Debian's example modules minus limits and invites; "
             "internal_hashed; allow_registration = true; "
             "min_seconds_between_registrations = 0 (loopback is on the "
             "default registration allowlist); c2s_require_encryption = "
             "false")
        return s + ("; " + self.tuned_settings if self.tuned else "")

    def write_config(self):
        data = os.path.join(self.dir, "data")
        os.makedirs(data, exist_ok=True)
        # Prosody refuses to run as root: when we are root it runs as the
        # prosody user (as the packaged service does), so it gets its
        # folder and a key it can read.
        certs = os.path.join(self.dir, "certs")
        os.makedirs(certs, exist_ok=True)
        crt = os.path.join(certs, DOMAIN + ".crt")
        key = os.path.join(certs, DOMAIN + ".key")
        shutil.copy(self.crt, crt)
        shutil.copy(self.key, key)
        self.conf = os.path.join(self.dir, "prosody.cfg.lua")
        net = ("network_settings = { nagle = false; opportunistic_writes = "
               "true; tcp_backlog = 1024 }\n" if self.tuned else "")
        with open(self.conf, "w") as f:
            f.write(
                'pidfile = "%(dir)s/prosody.pid"\n'
                'data_path = "%(data)s"\n'
                'log = { info = "%(dir)s/prosody.log"; '
                'error = "%(dir)s/prosody.err" }\n'
                "daemonize = false\n"
                'interfaces = { "127.0.0.1" }\n'
                "c2s_ports = { %(port)d }\n"
                "c2s_direct_tls_ports = { }\n"
                "legacy_ssl_ports = { }\n"
                "s2s_ports = { }\n"
                "s2s_direct_tls_ports = { }\n"
                "component_ports = { }\n"
                "http_ports = { }\n"
                "https_ports = { }\n"
                "modules_enabled = { %(mods)s }\n"
                'authentication = "internal_hashed"\n'
                "c2s_require_encryption = false\n"
                "allow_registration = true\n"
                "min_seconds_between_registrations = 0\n"
                'certificates = "%(certs)s"\n'
                'ssl = { certificate = "%(crt)s"; key = "%(key)s" }\n'
                "%(net)s"
                'VirtualHost "%(domain)s"\n'
                % {"dir": self.dir, "data": data, "port": self.port,
                   "mods": "; ".join('"%s"' % m for m in PROSODY_MODULES),
                   "certs": certs, "crt": crt, "key": key, "net": net, "domain": DOMAIN})
        self.user = None
        if os.getuid() == 0:
            try:
                pw = pwd.getpwnam("prosody")
            except KeyError:
                raise StartError("running as root and there is no prosody "
                                 "user to run Prosody as")
            self.user = pw
            # mkdtemp makes 0700 folders: let the prosody user through ours.
            work = os.path.dirname(self.dir)
            os.chmod(work, os.stat(work).st_mode | 0o011)
            for root, dirs, files in os.walk(self.dir):
                for n in [root] + [os.path.join(root, x)
                                   for x in dirs + files]:
                    os.chown(n, pw.pw_uid, pw.pw_gid)

    def command(self):
        return [self.binary, "--config", self.conf, "-F"]

    def popen_user(self):
        if self.user is None:
            return None
        return self.user.pw_uid, self.user.pw_gid

    def env(self):
        e = dict(os.environ)
        e["HOME"] = self.dir
        return e

    def server_logs(self):
        return [os.path.join(self.dir, "prosody.log"),
                os.path.join(self.dir, "prosody.err")]

    def version(self):
        return "Prosody " + debian_version("prosody")


# -- ejabberd ---------------------------------------------------------

# Debian's /etc/ejabberd/ejabberd.yml modules, without the HTTP, MQTT,
# STUN and push ones (they need listeners this benchmark does not open)
# and without mod_fail2ban (it bans an address after failed logins) and
# mod_pres_counter (it refuses a user's 6th subscription presence within
# 60 s with a "privacy list" not-acceptable error: the presence
# scenario's rosters of 10 contacts never completed): limits, lifted like
# the shapers.
EJABBERD_MODULES = """\
  mod_adhoc: {}
  mod_admin_extra: {}
  mod_announce:
    access: announce
  mod_avatar: {}
  mod_blocking: {}
  mod_caps: {}
  mod_carboncopy: {}
  mod_client_state: {}
  mod_configure: {}
  mod_disco: {}
  mod_last: {}
  mod_muc:
    access:
      - allow
    access_admin:
      - allow: admin
    access_create: muc_create
    access_persistent: muc_create
  mod_muc_admin: {}
  mod_offline:
    access_max_user_messages: max_user_offline_messages
  mod_ping: {}
  mod_privacy: {}
  mod_private: {}
  mod_pubsub:
    access_createnode: pubsub_createnode
    plugins:
      - flat
      - pep
  mod_register:
    ip_access: all
    access: register
    password_strength: 0
  mod_roster:
    versioning: true
  mod_shared_roster: {}
  mod_sic: {}
  mod_stream_mgmt:
    resend_on_timeout: if_offline
  mod_vcard:
    search: false
  mod_vcard_xupdate: {}
  mod_version: {}
"""

EJABBERD_LIB = "/usr/lib/x86_64-linux-gnu"


class Ejabberd(Server):
    kind = "ejabberd"
    erl = "/usr/bin/erl"
    tuned_settings = "listen backlog: 1024 (default 5)"

    @property
    def settings(self):
        s = ("Debian's example modules minus HTTP/MQTT/STUN/push, "
             "mod_fail2ban and mod_pres_counter; c2s shaper none; "
             "auth_password_format: scram with auth_scram_hash: sha256; mod_register open to all with "
             "registration_timeout: infinity; starttls (not required); "
             "erl +K true +P 250000, ERL_MAX_PORTS 32000 as ejabberdctl")
        return s + ("; " + self.tuned_settings if self.tuned else "")

    def write_config(self):
        self.spool = os.path.join(self.dir, "spool")
        self.logs = os.path.join(self.dir, "logs")
        os.makedirs(self.spool, exist_ok=True)
        os.makedirs(self.logs, exist_ok=True)
        self.conf = os.path.join(self.dir, "ejabberd.yml")
        self.node = "bench_ej_%d@localhost" % self.port
        self.cookie = secrets.token_hex(16)
        self.dist_port = free_port()
        backlog = "    backlog: 1024\n" if self.tuned else ""
        with open(self.conf, "w") as f:
            f.write(
                "loglevel: info\n"
                "log_rotate_count: 0\n"
                "hosts:\n  - %(domain)s\n"
                "certfiles:\n  - \"%(pem)s\"\n"
                "listen:\n"
                "  -\n"
                "    port: %(port)d\n"
                "    ip: \"127.0.0.1\"\n"
                "    module: ejabberd_c2s\n"
                "    max_stanza_size: 262144\n"
                "    shaper: none\n"
                "    access: c2s\n"
                "    starttls: true\n"
                "%(backlog)s"
                "auth_method: internal\n"
                "auth_password_format: scram\n"
                "auth_scram_hash: sha256\n"
                "registration_timeout: infinity\n"
                "acl:\n"
                "  admin:\n    user:\n      - \"\"\n"
                "  local:\n    user_regexp: \"\"\n"
                "  loopback:\n    ip:\n      - 127.0.0.0/8\n"
                "access_rules:\n"
                "  local:\n    allow: local\n"
                "  c2s:\n    deny: blocked\n    allow: all\n"
                "  register:\n    allow: all\n"
                "  announce:\n    allow: admin\n"
                "  configure:\n    allow: admin\n"
                "  muc_create:\n    allow: local\n"
                "  pubsub_createnode:\n    allow: local\n"
                "shaper_rules:\n"
                "  max_user_sessions: 10\n"
                "  max_user_offline_messages:\n    100: all\n"
                "  c2s_shaper: none\n"
                "modules:\n%(modules)s"
                % {"domain": DOMAIN, "pem": self.pem, "port": self.port,
                   "backlog": backlog, "modules": EJABBERD_MODULES})
        with open(os.path.join(self.dir, "inetrc"), "w") as f:
            f.write("{lookup,[file,native]}.\n{host,{127,0,0,1}, "
                    "[\"localhost\"]}.\n")

    def env(self):
        e = dict(os.environ)
        e.update({
            "HOME": self.dir,
            "EJABBERD_CONFIG_PATH": self.conf,
            "EJABBERD_LOG_PATH": os.path.join(self.logs, "ejabberd.log"),
            "EJABBERD_PID_PATH": os.path.join(self.dir, "ejabberd.pid"),
            "ERL_CRASH_DUMP": os.path.join(self.logs, "erl_crash.dump"),
            "ERL_INETRC": os.path.join(self.dir, "inetrc"),
            "ERL_MAX_PORTS": "32000",
            "ERL_MAX_ETS_TABLES": "1400",
            "ERL_LIBS": EJABBERD_LIB,
            "CONTRIB_MODULES_PATH": os.path.join(self.dir, "contrib"),
            "CONTRIB_MODULES_CONF_DIR": os.path.join(self.dir, "modules.d"),
        })
        return e

    def command(self):
        # What "ejabberdctl foreground" runs, without its su to the
        # ejabberd user and without epmd: the node listens for
        # distribution on its own port (-erl_epmd_port, -start_epmd false).
        return [self.erl, "-sname", self.node, "-setcookie", self.cookie,
                "+K", "true", "+P", "250000",
                "-env", "ERL_CRASH_DUMP_BYTES", "0",
                "-erl_epmd_port", str(self.dist_port), "-start_epmd", "false",
                "-mnesia", "dir", '"%s"' % self.spool,
                "-s", "ejabberd", "-noinput"]

    @property
    def pid(self):
        """beam.smp: erl execs erlexec, which execs the emulator; check,
        and look among the children if that ever changes."""
        pid = self.proc.pid
        try:
            with open("/proc/%d/comm" % pid) as f:
                if f.read().strip().startswith("beam"):
                    return pid
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                for c in f.read().split():
                    with open("/proc/%s/comm" % c) as g:
                        if g.read().strip().startswith("beam"):
                            return int(c)
        except OSError:
            pass
        return pid

    def server_logs(self):
        return [os.path.join(self.logs, "ejabberd.log"),
                os.path.join(self.logs, "error.log")]

    def version(self):
        return "ejabberd " + debian_version("ejabberd") + \
            " (Erlang/OTP " + debian_version("erlang-base") + ")"


KINDS = {"tern": Ternd, "prosody": Prosody, "ejabberd": Ejabberd}


def variants(kinds):
    """(class, tuned) in run order: tern, then each peer default and
    tuned."""
    out = []
    for k in kinds:
        out.append((KINDS[k], False))
        if k != "tern":
            out.append((KINDS[k], True))
    return out


def mech_for(server, preferred="SCRAM-SHA-256", fallback="SCRAM-SHA-1"):
    """The mechanism a server offers among preferred and fallback (None if
    neither)."""
    mechs = xmppc.mechanisms(server.port, tls=False)
    for m in (preferred, fallback):
        if m in mechs:
            return m
    return None

