"""Helpers for the federation tests: a ternd serving one domain of its
own (a.test, b.test ...) with an s2s listener, and a slixmpp client for
such a domain.  Each server reaches the others through s2s_route lines,
never through DNS or /etc/hosts."""

import asyncio
import os
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
