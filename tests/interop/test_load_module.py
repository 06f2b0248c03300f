"""A module built outside the tree, against the module API that
`make install` installs (header and tern-module.pc), loaded with
load_module."""

import os
import subprocess

import ternlib
from conftest import PASSWORDS

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests",
                   "extmod", "mod_hello.c")
BUILD = os.path.dirname(os.path.dirname(os.path.abspath(ternlib.TERND)))


def build_module(tmp):
    dest = os.path.join(tmp, "root")
    subprocess.run(["make", "-s", "install-ternHEADERS",
                    "install-pkgconfigDATA", "DESTDIR=" + dest],
                   cwd=BUILD, check=True, capture_output=True, timeout=120)
    pcdirs = [os.path.join(dp) for dp, dn, fn in os.walk(dest)
              if "tern-module.pc" in fn]
    assert pcdirs, "make install did not install tern-module.pc"
    env = dict(os.environ, PKG_CONFIG_PATH=pcdirs[0],
               PKG_CONFIG_SYSROOT_DIR=dest)
    cflags = subprocess.run(["pkg-config", "--cflags", "tern-module"],
                            env=env, check=True, capture_output=True,
                            text=True).stdout.split()
    so = os.path.join(tmp, "mod_hello.so")
    subprocess.run(["cc", "-shared", "-Wall", "-Werror"] + cflags +
                   ["-o", so, SRC], check=True, capture_output=True,
                   timeout=60)
    return so


def test_external_module(make_server, tmp_path):
    so = build_module(str(tmp_path))
    srv = make_server(extra_conf='load_module "%s";' % so,
                      host_conf='modules hello; hello_greeting "hi there";')
    s = ternlib.RawStream(srv.c2s_port)
    s.login("alice", PASSWORDS["alice@localhost"])
    s.send("<iq type='get' id='h1' to='localhost'>"
           "<query xmlns='urn:example:hello'/></iq>")
    r = s.expect(ternlib.q(ternlib.NS_CLIENT, "iq"))
    assert r.get("type") == "result", s.transcript()
    g = r.find("{urn:example:hello}query/{urn:example:hello}greeting")
    assert g is not None and g.text == "hi there", s.transcript()
    s.close()
    assert "loaded module hello" in srv.log_text()


def test_load_module_errors(make_server, tmp_path):
    srv = make_server(start=False)
    bad = os.path.join(str(tmp_path), "mod_missing.so")
    srv.write_conf(srv.conf_text(extra='load_module "%s";' % bad))
    r = subprocess.run([ternlib.TERND, "-n", "-f", srv.conf],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "tern.conf:" in r.stderr and "load_module" in r.stderr, r.stderr
