"""Output coalescing (src/conn.c): what ternd writes to one client during
one turn of its event loop leaves at the end of the turn, together.  Over
TLS that is one record for a burst of stanzas, where bufferevent_openssl
alone makes one record (and one write) per evbuffer piece: the stanzas
of a burst fill pieces of 1, 2 and then 4 KiB, so 13 KiB went out as 5
records before, 1 now.

A relay between the client and ternd's direct-TLS port parses the TLS
records going to the client, so the test sees what went over the wire."""

import select
import socket
import struct
import threading
import time

from conftest import PASSWORDS
from ternlib import DOMAIN, NS_CLIENT, RawStream, q

BURST = 120  # about 13 KiB to bob: one TLS record (16 KiB at most)
TLS_APPLICATION_DATA = 23


class RecordRelay:
    """Loopback TCP relay to target_port that counts the TLS records the
    server sends, by content type.  Runs at most 60 s."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(1)
        self.port = self.lsock.getsockname()[1]
        self.lock = threading.Lock()
        self.records = []
        self.buf = b""
        self.done = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.lsock.settimeout(10)
        client, _ = self.lsock.accept()
        server = socket.create_connection(("127.0.0.1", self.target_port))
        deadline = time.monotonic() + 60
        try:
            while not self.done and time.monotonic() < deadline:
                ready, _, _ = select.select([client, server], [], [], 0.1)
                for src in ready:
                    data = src.recv(65536)
                    if not data:
                        return
                    if src is server:
                        self._parse(data)
                        client.sendall(data)
                    else:
                        server.sendall(data)
        finally:
            client.close()
            server.close()
            self.lsock.close()

    def _parse(self, data):
        self.buf += data
        while len(self.buf) >= 5:
            ctype, _, length = struct.unpack("!BHH", self.buf[:5])
            if len(self.buf) < 5 + length:
                break
            with self.lock:
                self.records.append((ctype, length))
            self.buf = self.buf[5 + length:]

    def count(self, ctype):
        with self.lock:
            return sum(1 for t, _ in self.records if t == ctype)

    def stop(self):
        self.done = True
        self.thread.join(5)


def drain(stream, quiet=0.3):
    """Reads until the server has said nothing for `quiet` seconds."""
    while stream.poll(quiet) is not None:
        pass


def test_burst_to_one_client_leaves_in_few_tls_records(server):
    relay = RecordRelay(server.tls_port)
    bob = alice = None
    try:
        bob = RawStream(relay.port, tls=True)
        bob.login("bob", PASSWORDS["bob@" + DOMAIN], resource="rec")
        bob.send("<presence/>")
        alice = RawStream(server.c2s_port)
        alice.login("alice", PASSWORDS["alice@" + DOMAIN], resource="burst")
        drain(bob)
        before = relay.count(TLS_APPLICATION_DATA)

        # One write from alice, one TLS record of about 11 KiB: ternd
        # decrypts it whole in one turn and routes all of it to bob
        # before writing anything.
        alice.send("".join(
            "<message to='bob@%s/rec' type='chat' id='m%d'>"
            "<body>%d</body></message>" % (DOMAIN, i, i)
            for i in range(BURST)))
        got = []
        while len(got) < BURST:
            el = bob.next()
            assert el is not None, "bob's stream closed; " + bob.transcript()
            if el.tag == q(NS_CLIENT, "message"):
                got.append(el.findtext(q(NS_CLIENT, "body")))
        assert got == [str(i) for i in range(BURST)], (
            "messages lost or reordered: %r" % got)
        drain(bob, 0.2)
        records = relay.count(TLS_APPLICATION_DATA) - before
        assert records == 1, (
            "%d stanzas routed in one turn reached the client in %d TLS "
            "records: %r" % (BURST, records, relay.records[-records:]))
    finally:
        for s in (alice, bob):
            if s is not None:
                s.close()
        relay.stop()
