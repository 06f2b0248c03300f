"""Helpers for the tern interop suite: a ternd under test, a raw XMPP
stream for protocol-level checks, and a slixmpp client wrapper whose every
wait is bounded.

Nothing here talks to the network beyond 127.0.0.1 and the ports a test
server picked for itself.
"""

import asyncio
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout  # noqa: F401 (re-export)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TERND = os.environ.get("TERND", os.path.join(REPO, "src", "ternd"))
TERNCTL = os.environ.get("TERNCTL", os.path.join(REPO, "tools", "ternctl"))

DOMAIN = "localhost"
# TERN_VALGRIND=1 runs every ternd under valgrind memcheck.
VALGRIND = os.environ.get("TERN_VALGRIND", "") not in ("", "0")
WAIT = 10.0             # default bound for any single wait, seconds
if VALGRIND:
    WAIT *= 3

NS_STREAM = "http://etherx.jabber.org/streams"
NS_STREAM_ERR = "urn:ietf:params:xml:ns:xmpp-streams"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_STANZA = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_CLIENT = "jabber:client"
NS_PING = "urn:xmpp:ping"

SANITIZER_RE = re.compile(
    r"ERROR: (AddressSanitizer|LeakSanitizer|MemorySanitizer)|"
    r"runtime error:|SUMMARY: UndefinedBehaviorSanitizer")


_asan = {}


def asan_build(path=None):
    """Whether the ternd under test is built with AddressSanitizer (its
    allocator, shadow memory and quarantine change what RSS means)."""
    path = path or TERND
    if path not in _asan:
        try:
            with open(path, "rb") as f:
                _asan[path] = b"__asan_init" in f.read()
        except OSError:
            _asan[path] = False
    return _asan[path]


def q(ns, name):
    """Clark notation, as ElementTree spells qualified names."""
    return "{%s}%s" % (ns, name)


def free_port():
    """A port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_cert(directory, cn=DOMAIN, name="cert", rsa=False):
    """Self-signed certificate for cn (CN and subjectAltName DNS); an EC
    P-256 key, or RSA 2048 if rsa."""
    cert = os.path.join(directory, name + ".pem")
    key = os.path.join(directory, name + "-key.pem")
    keyargs = (["-newkey", "rsa:2048"] if rsa else
               ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
    subprocess.run(
        ["openssl", "req", "-x509"] + keyargs +
        ["-nodes", "-keyout", key, "-out", cert, "-days", "30",
         "-subj", "/CN=" + cn, "-addext", "subjectAltName=DNS:" + cn],
        check=True, capture_output=True, timeout=30)
    os.chmod(key, 0o600)
    return cert, key


def cert_der(pem_path):
    """DER bytes of the first certificate in a PEM file."""
    with open(pem_path) as f:
        pem = f.read()
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----",
                  pem, re.S)
    return ssl.PEM_cert_to_DER_cert(m.group(0))


def client_tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class ServerDied(AssertionError):
    pass


class Server:
    """One ternd with its own config, data_dir, certificate and ports."""

    def __init__(self, tmp_path, cert, key, extra_conf="", users=None,
                 host_conf=""):
        self.dir = str(tmp_path)
        self.data_dir = os.path.join(self.dir, "data")
        self.conf = os.path.join(self.dir, "tern.conf")
        self.log_path = os.path.join(self.dir, "ternd.log")
        self.cert = os.path.join(self.dir, "cert.pem")
        self.key = os.path.join(self.dir, "key.pem")
        with open(cert, "rb") as src, open(self.cert, "wb") as dst:
            dst.write(src.read())
        with open(key, "rb") as src, open(self.key, "wb") as dst:
            dst.write(src.read())
        os.chmod(self.key, 0o600)
        os.makedirs(self.data_dir, exist_ok=True)
        self.c2s_port = free_port()
        self.tls_port = free_port()
        while self.tls_port == self.c2s_port:
            self.tls_port = free_port()
        self.extra_conf = extra_conf
        self.host_conf = host_conf    # inside the host block: modules ...
        self.proc = None
        self.logf = None
        self.expect_exit = False
        self.env = None         # environment of ternd; None: inherited
        self.write_conf()
        for jid, pw in (users or {}).items():
            self.adduser(jid, pw)

    # -- config -------------------------------------------------------

    def conf_text(self, extra=None):
        extra = self.extra_conf if extra is None else extra
        return (
            "log debug;\n"
            'data_dir "%s";\n'
            'listen c2s "127.0.0.1:%d";\n'
            'listen c2s_tls "127.0.0.1:%d";\n'
            "%s\n"
            'host "%s" { certificate "%s" "%s"; %s }\n'
        ) % (self.data_dir, self.c2s_port, self.tls_port, extra, DOMAIN,
             self.cert, self.key, self.host_conf)

    def write_conf(self, text=None):
        with open(self.conf, "w") as f:
            f.write(self.conf_text() if text is None else text)

    # -- process ------------------------------------------------------

    def start(self, timeout=WAIT):
        self.logf = open(self.log_path, "ab")
        cmd = [TERND, "-f", self.conf, "-d"]
        if VALGRIND:
            # memcheck: any error or leak makes ternd exit with 97 and
            # leaves a report next to its log (read by stop()).
            cmd = ["valgrind", "--quiet", "--error-exitcode=97",
                   "--leak-check=full",
                   "--show-leak-kinds=definite,indirect,possible",
                   "--errors-for-leak-kinds=definite,indirect,possible",
                   "--log-file=%s/valgrind.%%p.log" % self.dir] + cmd
            timeout *= 4
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL,
            stdout=self.logf, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + timeout
        pending = [self.c2s_port, self.tls_port]
        while pending:
            if self.proc.poll() is not None:
                raise ServerDied(
                    "ternd exited with %s during startup\n%s"
                    % (self.proc.returncode, self.log_tail()))
            port = pending[0]
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                pending.pop(0)
                continue
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(
                    "ternd did not accept connections on 127.0.0.1:%d "
                    "within %ss\n%s" % (port, timeout, self.log_tail()))
            time.sleep(0.05)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def status_kib(self, field):
        """A size field of /proc/PID/status (VmRSS, VmHWM ...) in KiB."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise AssertionError("no %s in /proc/%d/status"
                             % (field, self.proc.pid))

    def rss_kib(self):
        return self.status_kib("VmRSS")

    def reset_peak_rss(self):
        """Start VmHWM afresh at the current RSS (Linux >= 4.0)."""
        with open("/proc/%d/clear_refs" % self.proc.pid, "w") as f:
            f.write("5")

    def peak_rss_kib(self):
        return self.status_kib("VmHWM")

    def signal(self, sig):
        assert self.alive(), "ternd is not running\n" + self.log_tail()
        os.kill(self.proc.pid, sig)

    def wait_exit(self, timeout=WAIT):
        """Exit status, or None if still running after timeout."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """Teardown: stop ternd, and report crashes it had on the way.

        Returns a list of problems (empty when all went well)."""
        problems = []
        if self.proc is None:
            return problems
        rc = self.proc.poll()
        if rc is None:
            self.proc.send_signal(signal.SIGTERM)
            rc = self.wait_exit(WAIT)
            if rc is None:
                self.proc.kill()
                self.proc.wait(5)
                problems.append("ternd did not exit within %ss of SIGTERM"
                                % WAIT)
            elif rc != 0:
                problems.append("ternd exited with status %d on SIGTERM"
                                % rc)
        elif not self.expect_exit:
            problems.append("ternd died during the test (status %d%s)" % (
                rc, " = signal %s" % signal.Signals(-rc).name
                if rc < 0 else ""))
        if self.logf:
            self.logf.close()
            self.logf = None
        m = SANITIZER_RE.search(self.log_text())
        if m:
            problems.append("sanitizer report in the ternd log: %r"
                            % m.group(0))
        for name in sorted(os.listdir(self.dir)):
            if name.startswith("valgrind.") and name.endswith(".log"):
                with open(os.path.join(self.dir, name)) as f:
                    report = f.read().strip()
                if report:
                    problems.append("valgrind report %s:\n%s"
                                    % (name, report[:6000]))
        return problems

    # -- log ----------------------------------------------------------

    def log_text(self, offset=0):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except FileNotFoundError:
            return 0

    def log_tail(self, lines=400, offset=0):
        text = self.log_text(offset).splitlines()
        head = "---- ternd log %s" % self.log_path
        if len(text) > lines:
            head += " (last %d of %d lines)" % (lines, len(text))
            text = text[-lines:]
        return "\n".join([head] + text + ["---- end of ternd log"])

    def wait_log(self, pattern, timeout=WAIT, offset=0):
        """Wait until the log (from offset) matches pattern."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        while time.monotonic() < deadline:
            if rx.search(self.log_text(offset)):
                return True
            time.sleep(0.05)
        return False

    # -- ternctl ------------------------------------------------------

    def ctl(self, *args, input=None, check=True, timeout=30):
        r = subprocess.run(
            [TERNCTL, "-f", self.conf] + list(args), input=input,
            capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError(
                "ternctl %s exited %d\nstdout: %s\nstderr: %s"
                % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def adduser(self, jid, password):
        return self.ctl("adduser", jid, input=password + "\n")

    def passwd(self, jid, password):
        return self.ctl("passwd", jid, input=password + "\n")

    def deluser(self, jid):
        return self.ctl("deluser", jid)

    def users(self, domain=None):
        r = self.ctl("users", *([domain] if domain else []))
        return [line.strip() for line in r.stdout.splitlines()
                if line.strip()]


# ----------------------------------------------------------------------
# Raw stream


class StreamClosed(AssertionError):
    pass


class RawStream:
    """A blocking XMPP stream over a socket, parsed with namespaces.

    Every read has a deadline.  Top-level children of the stream arrive
    as ElementTree elements in Clark notation; 'closed' is set once the
    peer closed the stream (</stream:stream>) or the TCP connection."""

    HEADER = ("<?xml version='1.0'?><stream:stream to='%s' version='1.0' "
              "xml:lang='en' xmlns='jabber:client' "
              "xmlns:stream='http://etherx.jabber.org/streams'>")

    def __init__(self, port, tls=False, timeout=WAIT, source=None,
                 rcvbuf=None):
        """source: local address to connect from (127.0.0.2 ...);
        rcvbuf: SO_RCVBUF set before connecting (a slow reader)."""
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        try:
            if source is not None:
                self.sock.bind((source, 0))
            self.sock.connect(("127.0.0.1", port))
        except OSError:
            self.sock.close()
            raise
        self.error_text = None
        self.tls = False
        self.received = b""
        self.send_error = None
        self.eof = False
        self.stream_ended = False
        self.root = None
        self.queue = []
        self._new_parser()
        if tls:
            self._wrap_tls()

    def _wrap_tls(self):
        self.sock = client_tls_context().wrap_socket(
            self.sock, server_hostname=DOMAIN)
        self.tls = True

    def _new_parser(self):
        self.parser = ET.XMLPullParser(("start", "end"))
        self.unparsed = b""
        self.depth = 0
        self.root = None
        self.stream_ended = False

    @property
    def closed(self):
        return self.eof or self.stream_ended

    def transcript(self, limit=4000):
        text = self.received.decode("utf-8", "replace")
        if len(text) > limit:
            text = "..." + text[-limit:]
        return "received so far: " + text

    def send(self, data):
        """Send; a peer that already closed is not an error here (it may
        rightly have ended the stream mid-way): what it said before is
        what the test reads next."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLEOFError,
                ssl.SSLZeroReturnError) as e:
            self.send_error = e

    def send_slowly(self, data, chunk=1024):
        """Send in chunks, stopping as soon as the server says anything:
        like a client streaming a large stanza, and no writes into a
        connection the server has already given up on."""
        import select
        if isinstance(data, str):
            data = data.encode("utf-8")
        for i in range(0, len(data), chunk):
            pending = self.tls and self.sock.pending()
            if pending or select.select([self.sock], [], [], 0)[0]:
                self._fill(time.monotonic() + 0.05)
                if self.queue or self.closed:
                    return False
            self.send(data[i:i + chunk])
            if self.send_error:
                return False
            time.sleep(0.001)
        return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def _fill(self, deadline):
        """Read once; False on timeout, sets eof at end of stream."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, TimeoutError):
            return False
        except (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError,
                ssl.SSLZeroReturnError):
            data = b""
        except ssl.SSLError as e:
            if "APPLICATION_DATA_AFTER_CLOSE_NOTIFY" in str(e):
                data = b""
            else:
                raise
        if not data:
            self.eof = True
            return True
        self.received += data
        # Python's expat (Debian's 2.5.0 has the CVE-2023-52425 fix, and
        # Python 3.11 no switch for it) defers parsing a partial token
        # until the data fed after it is large enough: a stanza with a
        # long attribute that arrived in two reads could wait forever.
        # ternd escapes every '>' in text and attributes, so feeding up
        # to the last '>' ends each feed at a tag and leaves no partial
        # token behind.
        self.unparsed += data
        cut = self.unparsed.rfind(b">") + 1
        if cut == 0:
            return True
        self.parser.feed(self.unparsed[:cut])
        self.unparsed = self.unparsed[cut:]
        for ev, el in self.parser.read_events():
            if ev == "start":
                self.depth += 1
                if self.depth == 1:
                    self.root = el
            else:
                self.depth -= 1
                if self.depth == 1:
                    self.queue.append(el)
                    self.root.remove(el)
                elif self.depth == 0:
                    self.stream_ended = True
        return True

    def next(self, timeout=WAIT):
        """Next top-level element; None once the stream is closed.

        Raises AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while not self.queue:
            if self.closed:
                return None
            if not self._fill(deadline):
                raise AssertionError(
                    "no stanza from the server within %ss; %s"
                    % (timeout, self.transcript()))
        return self.queue.pop(0)

    def poll(self, timeout):
        """Like next() but returns None on timeout too."""
        try:
            return self.next(timeout)
        except AssertionError:
            if self.queue or self.closed:
                raise
            return None

    def expect(self, tag, timeout=WAIT):
        el = self.next(timeout)
        assert el is not None, ("stream closed while waiting for %s; %s"
                                % (tag, self.transcript()))
        assert el.tag == tag, ("expected %s, got %s; %s"
                               % (tag, ET.tostring(el), self.transcript()))
        return el

    def open(self, to=DOMAIN, timeout=WAIT):
        """Send a stream header; return the stream features element."""
        self._new_parser()
        self.send(self.HEADER % to)
        deadline = time.monotonic() + timeout
        while self.root is None:
            if self.closed or not self._fill(deadline):
                raise AssertionError("no stream header from the server; "
                                     + self.transcript())
        assert self.root.tag == q(NS_STREAM, "stream"), (
            "bad stream root %s; %s" % (self.root.tag, self.transcript()))
        return self.expect(q(NS_STREAM, "features"),
                           max(0.1, deadline - time.monotonic()))

    def wait_closed(self, timeout=WAIT):
        """Wait until the server closes the stream or the connection."""
        deadline = time.monotonic() + timeout
        while not self.closed:
            if not self._fill(deadline):
                return False
        return True

    def wait_eof(self, timeout=WAIT):
        """Wait until the server closes the TCP connection.

        Once the server has closed its stream, answer with our own closing
        tag as RFC 6120 4.4 asks, so it need not wait for us."""
        deadline = time.monotonic() + timeout
        replied = False
        while not self.eof:
            if self.stream_ended and not replied:
                replied = True
                try:
                    self.send("</stream:stream>")
                except OSError:
                    pass
            if not self._fill(deadline):
                return False
        return True

    def stream_error(self, timeout=WAIT):
        """Read until a stream error; return its condition names.

        Fails if the stream closes or the time runs out first."""
        deadline = time.monotonic() + timeout
        while True:
            el = self.next(max(0.01, deadline - time.monotonic()))
            if el is None:
                raise AssertionError(
                    "stream closed without a stream error; "
                    + self.transcript())
            if el.tag == q(NS_STREAM, "error"):
                self.error_text = el.findtext(q(NS_STREAM_ERR, "text"))
                return [c.tag.split("}")[1] for c in el
                        if c.tag.startswith("{%s}" % NS_STREAM_ERR)
                        and not c.tag.endswith("}text")]

    # -- negotiation helpers ------------------------------------------

    def starttls(self):
        self.send("<starttls xmlns='%s'/>" % NS_TLS)
        self.expect(q(NS_TLS, "proceed"))
        assert not self.queue, "data after <proceed/>"
        self._wrap_tls()

    def auth_plain(self, user, password, authzid=""):
        import base64
        blob = base64.b64encode(("%s\0%s\0%s" % (authzid, user, password))
                                .encode("utf-8")).decode("ascii")
        self.send("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>"
                  % (NS_SASL, blob))
        return self.next()

    def bind(self, resource=None, iq_id="bind1"):
        res = "<resource>%s</resource>" % resource if resource else ""
        self.send("<iq type='set' id='%s'><bind xmlns='%s'>%s</bind></iq>"
                  % (iq_id, NS_BIND, res))
        return self.expect(q(NS_CLIENT, "iq"))

    def login(self, user, password, resource=None):
        """PLAIN login and bind; returns the bound full JID.

        Negotiates STARTTLS unless the socket is already TLS."""
        feats = self.open()
        if not self.tls:
            assert feats.find(q(NS_TLS, "starttls")) is not None, (
                "no STARTTLS offered; " + self.transcript())
            self.starttls()
            feats = self.open()
        mechs = [m.text for m in feats.iter(q(NS_SASL, "mechanism"))]
        assert "PLAIN" in mechs, "PLAIN not offered over TLS: %r" % mechs
        r = self.auth_plain(user, password)
        assert r is not None and r.tag == q(NS_SASL, "success"), (
            "PLAIN login failed; " + self.transcript())
        feats = self.open()
        assert feats.find(q(NS_BIND, "bind")) is not None, (
            "no bind feature after SASL; " + self.transcript())
        r = self.bind(resource)
        assert r.get("type") == "result", "bind failed; " + self.transcript()
        jid = r.find("%s/%s" % (q(NS_BIND, "bind"), q(NS_BIND, "jid")))
        assert jid is not None and jid.text, "bind result without a JID"
        self.jid = jid.text
        return self.jid


def stanza_error(el):
    """(type, [conditions]) of a stanza's <error/>, or None."""
    err = el.find(q(NS_CLIENT, "error"))
    if err is None:
        return None
    return err.get("type"), [c.tag.split("}")[1] for c in err
                             if c.tag.startswith("{%s}" % NS_STANZA)
                             and not c.tag.endswith("}text")]


# ----------------------------------------------------------------------
# slixmpp


class LoginFailed(AssertionError):
    def __init__(self, msg, condition=None):
        super().__init__(msg)
        self.condition = condition


class Client(slixmpp.ClientXMPP):
    """slixmpp client pinned to a test server, with queues for what it
    receives.  Build and use it inside a running event loop."""

    def __init__(self, jid, password, mech=None, plugins=(),
                 channel_binding=None):
        super().__init__(jid, password, sasl_mech=mech)
        # slixmpp 1.8 hands TLS channel-binding data (tls-unique) to every
        # SCRAM exchange; with a non-PLUS mechanism it then sends the GS2
        # flag 'y', which RFC 5802 obliges a server that offers -PLUS to
        # refuse.  A client that forces a non-PLUS SCRAM mechanism is
        # therefore modelled as one without channel binding (flag 'n'),
        # unless channel_binding=True asks for slixmpp's raw behaviour.
        if channel_binding is None:
            channel_binding = not (mech and mech.startswith("SCRAM-")
                                   and not mech.endswith("-PLUS"))
        if not channel_binding:
            feat = self["feature_mechanisms"]
            inner = feat.sasl_callback

            def no_cb(required, optional):
                creds = inner(required, optional)
                creds.pop("channel_binding", None)
                return creds
            feat.sasl_callback = no_cb
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.use_ipv6 = False
        # Real clients answer XEP-0199 pings; this also registers the
        # <ping/> stanza plugin used by the tests.
        self.register_plugin("xep_0199")
        for p in plugins:
            self.register_plugin(p)
        self.inbox = asyncio.Queue()        # non-error messages with body
        self.error_inbox = asyncio.Queue()  # message errors
        self.stream_errors = []
        self.auth_failures = []
        self._started = asyncio.Event()
        self._auth_failed = asyncio.Event()
        self._gone = asyncio.Event()
        self._stream_error = asyncio.Event()
        self.add_event_handler("session_start",
                               lambda _: self._started.set())
        self.add_event_handler("failed_auth", self._on_failed_auth)
        self.add_event_handler("failed_all_auth",
                               lambda _: self._auth_failed.set())
        self.add_event_handler("stream_error", self._on_stream_error)
        self.add_event_handler("disconnected", lambda _: self._gone.set())
        self.add_event_handler("message", self._on_message)
        self.add_event_handler("message_error",
                               lambda m: self.error_inbox.put_nowait(m))

    # The test fixture pins the address; no DNS, and SNI says "localhost"
    # as it would for a real client of this domain.
    async def get_dns_records(self, domain, port=None):
        return [(DOMAIN, self._pinned[0], self._pinned[1])]

    def _on_failed_auth(self, stanza):
        self.auth_failures.append(stanza["condition"])
        self._auth_failed.set()

    def _on_stream_error(self, err):
        self.stream_errors.append(err["condition"])
        self._stream_error.set()

    def _on_message(self, msg):
        if msg["type"] != "error":
            self.inbox.put_nowait(msg)

    async def start(self, port, use_ssl=False, timeout=WAIT,
                    presence=True, **kw):
        """Connect, authenticate, bind; raise LoginFailed on failure."""
        self._pinned = ("127.0.0.1", port)
        self.default_domain = DOMAIN
        self.connect(address=self._pinned, use_ssl=use_ssl, **kw)
        waits = {asyncio.ensure_future(e.wait()): name for e, name in (
            (self._started, "started"), (self._auth_failed, "auth"),
            (self._gone, "gone"))}
        done, pending = await asyncio.wait(
            waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for t in pending:
            t.cancel()
        if not done:
            self.kill()
            raise LoginFailed("login as %s timed out after %ss"
                              % (self.requested_jid, timeout))
        if not self._started.is_set() and not self._auth_failed.is_set():
            # disconnected: let queued stanzas (a SASL failure, a stream
            # error) be handled before judging
            try:
                await asyncio.wait_for(self._auth_failed.wait(), 1.0)
            except asyncio.TimeoutError:
                pass
        if not self._started.is_set():
            cond = self.auth_failures[-1] if self.auth_failures else None
            self.kill()
            raise LoginFailed(
                "login as %s failed: auth failures %r, stream errors %r, "
                "disconnected %s, mechanisms offered %r, requested %r"
                % (self.requested_jid, self.auth_failures,
                   self.stream_errors, self._gone.is_set(),
                   sorted(self["feature_mechanisms"].mech_list),
                   self["feature_mechanisms"].use_mech), cond)
        if presence:
            self.send_presence()
            await self.barrier()
        return self

    async def barrier(self, timeout=WAIT):
        """Round trip to the server: everything sent before it has been
        processed when this returns.  Any iq reply will do."""
        iq = self.make_iq_get(queryxmlns="urn:tern:test:barrier",
                              ito=DOMAIN)
        try:
            await iq.send(timeout=timeout)
        except IqError:
            pass
        except IqTimeout:
            raise AssertionError("the server did not answer an iq get "
                                 "within %ss (barrier)" % timeout)

    async def next_message(self, timeout=WAIT):
        try:
            return await asyncio.wait_for(self.inbox.get(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError("%s received no message within %ss"
                                 % (self.boundjid, timeout))

    async def next_error(self, timeout=WAIT):
        try:
            return await asyncio.wait_for(self.error_inbox.get(), timeout)
        except asyncio.TimeoutError:
            raise AssertionError("%s received no message error within %ss"
                                 % (self.boundjid, timeout))

    async def wait_gone(self, timeout=WAIT):
        try:
            await asyncio.wait_for(self._gone.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    async def wait_stream_error(self, timeout=WAIT):
        """Conditions of the stream errors received, waiting for one.

        slixmpp handles stanzas from a queue, so 'disconnected' may fire
        before a stream error that came before it has been handled."""
        try:
            await asyncio.wait_for(self._stream_error.wait(), timeout)
        except asyncio.TimeoutError:
            pass
        return list(self.stream_errors)

    @property
    def gone(self):
        return self._gone.is_set()

    def kill(self):
        """Drop the connection now.  (slixmpp's abort() calls abort()
        after close() on the transport, which raises for TLS ones.)"""
        self.cancel_connection_attempt()
        t = self.transport
        if t is not None:
            try:
                t.abort()
            except Exception:
                pass

    async def close(self):
        if self.transport is None:
            return
        try:
            await asyncio.wait_for(self.disconnect(wait=1), 3)
        except Exception:
            pass
        self.kill()


class Clients:
    """async with Clients(server) as cs: a = await cs.login('alice', 'pw')

    Closes every client on the way out, whatever happened."""

    def __init__(self, server):
        self.server = server
        self.all = []

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await asyncio.gather(*(c.close() for c in self.all),
                             return_exceptions=True)

    def client(self, jid, password, mech="PLAIN", plugins=(),
               channel_binding=None):
        if "@" not in jid:
            jid = "%s@%s" % (jid, DOMAIN)
        c = Client(jid, password, mech=mech, plugins=plugins,
                   channel_binding=channel_binding)
        self.all.append(c)
        return c

    async def login(self, jid, password, mech="PLAIN", direct_tls=False,
                    plugins=(), presence=True, timeout=WAIT,
                    channel_binding=None, **kw):
        c = self.client(jid, password, mech=mech, plugins=plugins,
                        channel_binding=channel_binding)
        port = self.server.tls_port if direct_tls else self.server.c2s_port
        return await c.start(port, use_ssl=direct_tls, presence=presence,
                             timeout=timeout, **kw)


# ----------------------------------------------------------------------
# Hostile tests: an honest pair chatting while a test attacks the server


class HonestChat:
    """Two honest slixmpp clients on their own event loop in a thread,
    sending each other numbered chat messages every `interval` seconds
    while the test (in the main thread) attacks the server.

    finish() stops the senders and waits for every message in flight;
    problems() then lists each message lost, duplicated, reordered or
    received from a stranger, and any disconnection or stream error."""

    def __init__(self, server, accounts, interval=0.02):
        self.server = server
        self.accounts = accounts        # two (bare JID, password)
        self.interval = interval
        self.ready = threading.Event()
        self.error = None
        self.loop = None
        self.thread = None
        self.clients = []
        self.sent = [0, 0]              # by sender
        self.sent_at = [[], []]         # by sender: monotonic times
        self.got = [[], []]             # by receiver: sequence numbers
        self.foreign = []               # what neither client expected
        self.max_latency = 0.0

    def start(self, timeout=3 * WAIT):
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name="honest-chat")
        self.thread.start()
        if not self.ready.wait(timeout):
            raise AssertionError("the honest clients did not log in "
                                 "within %ss" % timeout)
        if self.error is not None:
            raise AssertionError("honest clients: %r" % (self.error,))
        return self

    def _run(self):
        try:
            asyncio.run(self._main())
        except BaseException as e:      # reported by start() or finish()
            self.error = e
        finally:
            self.ready.set()

    async def _main(self):
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._quit = asyncio.Event()
        async with Clients(self.server) as cs:
            for jid, pw in self.accounts:
                self.clients.append(await cs.login(jid + "/honest", pw))
            tasks = [asyncio.ensure_future(f(i)) for i in (0, 1)
                     for f in (self._send, self._receive)]
            self.ready.set()
            await self._quit.wait()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _send(self, i):
        me, peer = self.clients[i], self.clients[1 - i]
        while not self._stop.is_set():
            n = self.sent[i]
            self.sent_at[i].append(time.monotonic())
            me.send_message(mto=peer.boundjid.full, mtype="chat",
                            mbody="honest %d %d" % (i, n))
            self.sent[i] = n + 1
            try:
                await asyncio.wait_for(self._stop.wait(), self.interval)
            except asyncio.TimeoutError:
                pass

    async def _receive(self, i):
        me, peer = self.clients[i], self.clients[1 - i]
        while True:
            inbox = asyncio.ensure_future(me.inbox.get())
            errs = asyncio.ensure_future(me.error_inbox.get())
            try:
                done, _ = await asyncio.wait(
                    (inbox, errs), return_when=asyncio.FIRST_COMPLETED)
            finally:
                for t in (inbox, errs):
                    if not t.done():
                        t.cancel()
            for t in done:
                m = t.result()
                parts = m["body"].split()
                if (t is errs or m["from"] != peer.boundjid.full or
                        len(parts) != 3 or parts[:2] != ["honest",
                                                          str(1 - i)]):
                    self.foreign.append("%s got %s" % (me.boundjid, m))
                    continue
                n = int(parts[2])
                self.got[i].append(n)
                if n < len(self.sent_at[1 - i]):
                    self.max_latency = max(
                        self.max_latency,
                        time.monotonic() - self.sent_at[1 - i][n])

    def sent_total(self):
        return sum(self.sent)

    def finish(self, timeout=WAIT):
        """Stop sending and wait until every message sent has arrived
        (or timeout)."""
        async def drain():
            self._stop.set()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and any(
                    len(self.got[1 - i]) < self.sent[i] for i in (0, 1)):
                await asyncio.sleep(0.02)
        if self.error is None and self.loop is not None:
            asyncio.run_coroutine_threadsafe(drain(), self.loop).result(
                timeout + 5)

    def problems(self):
        out = []
        if self.error is not None:
            out.append("honest clients failed: %r" % (self.error,))
        for i in (0, 1):
            want = list(range(self.sent[1 - i]))
            got = self.got[i]
            if got != want:
                missing = sorted(set(want) - set(got))
                out.append("%s received %d of %d messages (missing %s%s, "
                           "%d duplicated or reordered)" % (
                               self.clients[i].boundjid, len(got),
                               len(want), missing[:10],
                               "..." if len(missing) > 10 else "",
                               len(got) - len(set(got))))
        for c in self.clients:
            if c.gone or c.stream_errors:
                out.append("%s was disconnected (stream errors %r)"
                           % (c.boundjid, c.stream_errors))
        out.extend(self.foreign[:5])
        return out

    def close(self):
        if self.loop is not None and self.thread.is_alive():
            self.loop.call_soon_threadsafe(self._quit.set)
        if self.thread is not None:
            self.thread.join(WAIT)


class Arena:
    """A ternd under attack (see the 'hostile' fixture in conftest.py).

    While the test attacks, an honest pair (HonestChat) chats.  verify()
    then asserts: every honest message arrived, the server is still up
    and a new client can log in and get an answer, and the peak RSS
    since the attack began (VmHWM after a reset) is at most the RSS
    before it plus rss_mib.  Under AddressSanitizer, whose allocator
    and shadow memory make RSS grow in other steps, the bound is
    ASAN_RSS_FACTOR times looser, plus the quarantine that ternd is
    given (freed memory is held there until it is full)."""

    ASAN_RSS_FACTOR = 2
    ASAN_QUARANTINE_MIB = 4
    MIN_HONEST = 10         # messages the pair sends during any attack

    def __init__(self, server, honest, login):
        self.server = server
        self.honest = honest
        self.login = login              # (user, password) for the check
        self.verified = False
        # Let the pair's first messages warm the server up, then start
        # measuring.
        deadline = time.monotonic() + WAIT
        while honest.sent_total() < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        self.rss_before = server.rss_kib()
        server.reset_peak_rss()
        self.sent_before = honest.sent_total()

    def rss_bound_kib(self, rss_mib):
        if asan_build():
            rss_mib = (rss_mib * self.ASAN_RSS_FACTOR +
                       self.ASAN_QUARANTINE_MIB)
        return self.rss_before + int(rss_mib * 1024)

    def check_rss(self, rss_mib, what="the attack"):
        peak = self.server.peak_rss_kib()
        bound = self.rss_bound_kib(rss_mib)
        assert peak <= bound, (
            "ternd's RSS peaked at %d KiB during %s: more than %d KiB "
            "before it + %s MiB%s" % (
                peak, what, self.rss_before, rss_mib,
                " x %d + %d MiB of quarantine (ASan)" % (
                    self.ASAN_RSS_FACTOR, self.ASAN_QUARANTINE_MIB)
                if asan_build() else ""))
        return peak

    def verify(self, rss_mib):
        """After the attack: see the class comment."""
        assert self.server.alive(), ("ternd died during the attack\n"
                                     + self.server.log_tail())
        # The chat ran alongside the attack, not only before it.
        deadline = time.monotonic() + WAIT
        while (self.honest.sent_total() - self.sent_before <
               self.MIN_HONEST and time.monotonic() < deadline):
            time.sleep(0.01)
        self.honest.finish()
        problems = self.honest.problems()
        assert not problems, ("the honest clients suffered from the "
                              "attack:\n" + "\n".join(problems))
        lat = 5.0 if asan_build() else 2.0
        assert self.honest.max_latency < lat, (
            "an honest message took %.2fs to arrive during the attack "
            "(bound %ss)" % (self.honest.max_latency, lat))
        peak = self.check_rss(rss_mib)
        s = RawStream(self.server.c2s_port)
        try:
            jid = s.login(self.login[0], self.login[1], "after-attack")
            s.send("<iq type='get' id='alive' to='%s'><ping xmlns='%s'/>"
                   "</iq>" % (DOMAIN, NS_PING))
            r = s.expect(q(NS_CLIENT, "iq"))
            assert r.get("id") == "alive", s.transcript()
        finally:
            s.close()
        self.verified = True
        return {"jid": jid, "rss_before_kib": self.rss_before,
                "rss_peak_kib": peak,
                "honest_messages": self.honest.sent_total(),
                "max_latency_s": self.honest.max_latency}


def run(coro, timeout=60):
    """Run one test scenario on a fresh event loop, bounded."""
    async def bounded():
        return await asyncio.wait_for(coro, timeout)
    return asyncio.run(bounded())
