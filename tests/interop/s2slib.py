"""Helpers for the federation tests: a ternd serving one domain of its
own (a.test, b.test ...) with an s2s listener, and a slixmpp client for
such a domain.  Each server reaches the others through s2s_route lines,
never through DNS or /etc/hosts."""

import asyncio
import os
import re
import signal
import socket
import subprocess
import time

import ternlib
from ternlib import Client, Clients, Server, WAIT, free_port


class DomainServer(Server):
    """A ternd for `domain` with an s2s listener on its own port."""

    def __init__(self, tmp_path, domain, cert, key, users=None,
                 host_conf="modules roster presence offline;",
                 extra_conf=""):
        self.domain = domain
        self.s2s_port = free_port()
        self.routes = {}
        super().__init__(tmp_path, cert, key, extra_conf=extra_conf,
                         users=None, host_conf=host_conf)
        for jid, pw in (users or {}).items():
            self.adduser(jid, pw)

    def route(self, domain, port, host="127.0.0.1"):
        self.routes[domain] = "%s:%d" % (host, port)
        self.write_conf()

    def conf_text(self, extra=None):
        extra = self.extra_conf if extra is None else extra
        routes = "".join('s2s_route "%s" "%s";\n' % kv
                         for kv in sorted(self.routes.items()))
        return (
            "log debug;\n"
            'data_dir "%s";\n'
            'listen c2s "127.0.0.1:%d";\n'
            'listen c2s_tls "127.0.0.1:%d";\n'
            'listen s2s "127.0.0.1:%d";\n'
            "%s%s\n"
            'host "%s" { certificate "%s" "%s"; %s }\n'
        ) % (self.data_dir, self.c2s_port, self.tls_port, self.s2s_port,
             routes, extra, self.domain, self.cert, self.key,
             self.host_conf)


class DomainClient(Client):
    """A client of a server whose domain is not 'localhost'."""

    async def get_dns_records(self, domain, port=None):
        return [(self.boundjid.domain, self._pinned[0], self._pinned[1])]

    async def start(self, port, **kw):
        r = await super().start(port, **kw)
        return r

    async def barrier(self, timeout=WAIT):
        iq = self.make_iq_get(queryxmlns="urn:tern:test:barrier",
                              ito=self.boundjid.domain)
        try:
            await iq.send(timeout=timeout)
        except ternlib.IqError:
            pass
        except ternlib.IqTimeout:
            raise AssertionError("no answer to an iq get within %ss "
                                 "(barrier)" % timeout)


class DomainClients(Clients):
    def client(self, jid, password, mech="PLAIN", plugins=(),
               channel_binding=None):
        c = DomainClient(jid, password, mech=mech, plugins=plugins,
                         channel_binding=channel_binding)
        self.all.append(c)
        return c


async def until(cond, what, timeout=WAIT):
    """Wait until cond() holds, polling; bounded."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        await asyncio.sleep(0.05)


def make_domain_cert(directory, domain):
    d = os.path.join(directory, "cert-" + domain)
    os.makedirs(d, exist_ok=True)
    return ternlib.make_cert(d, cn=domain)


# ----------------------------------------------------------------------
# Prosody as the peer

PROSODY = os.environ.get("PROSODY", "/usr/bin/prosody")
PROSODYCTL = os.environ.get("PROSODYCTL", "/usr/bin/prosodyctl")
PROSODY_MODULES = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                               "prosody")


def lua_str(s):
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


class Prosody:
    """Debian's prosody for one domain, started by the test with its own
    config, data directory and loopback ports, in the foreground (-F),
    and stopped by its pid.  Never the system service or config.

    routes: {domain: "127.0.0.1:port"} for mod_test_s2s_route (shipped
    in tests/interop/prosody), which pins those domains the way tern's
    s2s_route does."""

    def __init__(self, tmp_path, domain, cert, key, users=None, routes=None,
                 cafile=None, secure_auth=False):
        self.dir = str(tmp_path)
        self.domain = domain
        self.cert, self.key = cert, key
        self.cafile = cafile
        self.secure_auth = secure_auth
        self.data_dir = os.path.join(self.dir, "data")
        os.makedirs(self.data_dir, exist_ok=True)
        os.makedirs(os.path.join(self.dir, "certs"), exist_ok=True)
        self.conf = os.path.join(self.dir, "prosody.cfg.lua")
        self.log_path = os.path.join(self.dir, "prosody.log")
        self.pid_file = os.path.join(self.dir, "prosody.pid")
        self.c2s_port = free_port()
        self.s2s_port = free_port()
        self.routes = dict(routes or {})
        self.proc = None
        self.out = None
        self.write_conf()
        for jid, pw in (users or {}).items():
            user, host = jid.split("@")
            subprocess.run([PROSODYCTL, "--config", self.conf, "register",
                            user, host, pw], check=True,
                           capture_output=True, timeout=30)

    def route(self, domain, port, host="127.0.0.1"):
        self.routes[domain] = "%s:%d" % (host, port)
        self.write_conf()

    def write_conf(self):
        routes = "; ".join("[%s] = %s" % (lua_str(d), lua_str(t))
                           for d, t in sorted(self.routes.items()))
        ssl = "certificate = %s; key = %s;" % (lua_str(self.cert),
                                                 lua_str(self.key))
        if self.cafile:
            ssl += " cafile = %s;" % lua_str(self.cafile)
        text = """
-- Written by tern's interop tests; loopback only.
run_as_root = true
daemonize = false
pidfile = %(pid)s
data_path = %(data)s
certificates = %(certs)s
plugin_paths = { %(plugins)s }
log = { debug = %(log)s }
interfaces = { "127.0.0.1" }
c2s_ports = { %(c2s)d }
s2s_ports = { %(s2s)d }
c2s_direct_tls_ports = { }
s2s_direct_tls_ports = { }
legacy_ssl_ports = { }
http_ports = { }
https_ports = { }
admin_socket = %(admin)s
modules_enabled = { "roster"; "saslauth"; "tls"; "dialback"; "disco";
	"presence"; "message"; "iq"; "offline"; "posix"; "test_s2s_route" }
modules_disabled = { "s2s_bidi" }
authentication = "internal_plain"
storage = "internal"
s2s_secure_auth = %(secure)s
s2s_timeout = 10
c2s_require_encryption = true
test_s2s_routes = { %(routes)s }
VirtualHost %(domain)s
	ssl = { %(ssl)s }
""" % {"pid": lua_str(self.pid_file), "data": lua_str(self.data_dir),
           "certs": lua_str(os.path.join(self.dir, "certs")),
           "plugins": lua_str(PROSODY_MODULES), "log": lua_str(self.log_path),
           "c2s": self.c2s_port, "s2s": self.s2s_port,
           "admin": lua_str(os.path.join(self.dir, "admin.sock")),
           "secure": "true" if self.secure_auth else "false",
           "routes": routes, "domain": lua_str(self.domain), "ssl": ssl}
        with open(self.conf, "w") as f:
            f.write(text)

    def start(self, timeout=WAIT):
        self.out = open(os.path.join(self.dir, "prosody.out"), "ab")
        self.proc = subprocess.Popen(
            [PROSODY, "--config", self.conf, "-F"],
            stdin=subprocess.DEVNULL, stdout=self.out,
            stderr=subprocess.STDOUT, cwd=self.dir)
        deadline = time.monotonic() + timeout
        for port in (self.c2s_port, self.s2s_port):
            while True:
                if self.proc.poll() is not None:
                    raise AssertionError("prosody exited with %s at start\n%s"
                                         % (self.proc.returncode,
                                            self.log_tail()))
                try:
                    socket.create_connection(("127.0.0.1", port), 0.5).close()
                    break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError("prosody did not listen on %d "
                                         "within %ss\n%s"
                                         % (port, timeout, self.log_tail()))
                time.sleep(0.05)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """Stops this prosody (by its pid); returns a list of problems."""
        problems = []
        if self.proc is None:
            return problems
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                problems.append("prosody did not stop on SIGTERM")
        if self.out:
            self.out.close()
            self.out = None
        return problems

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines=200):
        text = self.log_text().splitlines()[-lines:]
        return "\n".join(["---- prosody log %s" % self.log_path] + text +
                         ["---- end of prosody log"])

    def wait_log(self, pattern, timeout=WAIT):
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while time.monotonic() < deadline:
            if rx.search(self.log_text()):
                return True
            time.sleep(0.05)
        return False


# ----------------------------------------------------------------------
# A test CA


def _openssl(*args, cwd=None):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True,
                   timeout=30, cwd=cwd)


class CA:
    """A certificate authority made by the test, for SASL EXTERNAL."""

    def __init__(self, directory):
        self.dir = os.path.join(directory, "ca")
        os.makedirs(self.dir, exist_ok=True)
        self.cert = os.path.join(self.dir, "ca.pem")
        self.key = os.path.join(self.dir, "ca-key.pem")
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                 self.key, "-out", self.cert, "-days", "30", "-subj",
                 "/CN=tern interop test CA", "-addext",
                 "basicConstraints=critical,CA:TRUE", "-addext",
                 "keyUsage=critical,keyCertSign,cRLSign")
        self.n = 0

    def issue(self, cn, san, eku="serverAuth"):
        """A certificate for cn with subjectAltName san (OpenSSL syntax,
        e.g. "DNS:b.test" or "otherName:1.3.6.1.5.5.7.8.7;IA5STRING:
        _xmpp-server.a.test") and the extended key usage eku."""
        self.n += 1
        base = os.path.join(self.dir, "c%d" % self.n)
        ext = base + ".ext"
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\nsubjectAltName=%s\n"
                    "extendedKeyUsage=%s\n" % (san, eku))
        _openssl("req", "-newkey", "ec", "-pkeyopt",
                 "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
                 base + "-key.pem", "-out", base + ".csr", "-subj",
                 "/CN=" + cn)
        _openssl("x509", "-req", "-in", base + ".csr", "-CA", self.cert,
                 "-CAkey", self.key, "-set_serial", str(1000 + self.n),
                 "-days", "30", "-out", base + ".pem", "-extfile", ext)
        os.chmod(base + "-key.pem", 0o600)
        return base + ".pem", base + "-key.pem"


# ----------------------------------------------------------------------
# A tiny DNS responder on a loopback UDP port


class DnsResponder:
    """Answers A, AAAA and SRV questions from a table, on 127.0.0.1 and
    a port of its own, in a thread; tern is pointed at it with
    dns_nameserver.  records: {(name, "A"): ["127.0.0.1"],
    (name, "SRV"): [(prio, weight, port, target)]}; other names get
    NXDOMAIN, other types of known names an empty answer."""

    TYPES = {1: "A", 28: "AAAA", 33: "SRV"}

    def __init__(self, records):
        import threading
        self.records = records
        self.queries = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()

    @staticmethod
    def _name(labels):
        out = b""
        for part in labels.split(".") if labels else []:
            out += bytes([len(part)]) + part.encode()
        return out + b"\0"

    def _serve(self):
        import struct
        deadline = time.monotonic() + 600       # bounded, like any loop
        while not self.stopping and time.monotonic() < deadline:
            try:
                data, addr = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            if len(data) < 17:
                continue
            qid = data[:2]
            off, labels = 12, []
            while data[off] != 0:
                n = data[off]
                labels.append(data[off + 1:off + 1 + n].decode())
                off += 1 + n
            qtype, = struct.unpack("!H", data[off + 1:off + 3])
            question = data[12:off + 5]
            name = ".".join(labels).lower()
            tname = self.TYPES.get(qtype, str(qtype))
            self.queries.append((name, tname))
            known = any(k[0] == name for k in self.records)
            answers = b""
            rows = self.records.get((name, tname), [])
            for r in rows:
                if tname == "A":
                    rdata = socket.inet_aton(r)
                elif tname == "AAAA":
                    rdata = socket.inet_pton(socket.AF_INET6, r)
                else:
                    prio, weight, port, target = r
                    rdata = struct.pack("!HHH", prio, weight, port) + \
                        self._name(target)
                # The owner name as a pointer to the question (0xc00c).
                answers += b"\xc0\x0c" + struct.pack(
                    "!HHIH", qtype, 1, 60, len(rdata)) + rdata
            rcode = 0 if known else 3
            hdr = qid + struct.pack("!HHHHH", 0x8180 | rcode, 1, len(rows),
                                    0, 0)
            self.sock.sendto(hdr + question + answers, addr)
