/*
 * Unit tests for conf.c: a full config, defaults, every error message
 * with its file:line, the tokenizer corners, number suffixes and bounds,
 * and the committed sample conf/tern.conf.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "module.h"

#ifndef TERN_SRCDIR
#define TERN_SRCDIR	"."
#endif

#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR	"/var"
#endif

/* The smallest valid tail: one listener, one host with a certificate. */
#define TAIL	"listen c2s \"[::]:5222\";\n" \
		"host example.org {\n" \
		"\tcertificate a.crt a.key;\n" \
		"}\n"

static char	errbuf[512];

static struct tern_conf *
load(const char *text)
{
	return conf_load_string(text, "t.conf", errbuf, sizeof(errbuf));
}

/* Asserts that text fails with "t.conf:LINE: ..." containing part. */
static void
fails(const char *text, int line, const char *part)
{
	struct tern_conf	*c;
	char			 prefix[32];

	c = load(text);
	cr_assert_null(c, "loaded, expected error \"%s\"", part);
	snprintf(prefix, sizeof(prefix), "t.conf:%d: ", line);
	cr_assert(strncmp(errbuf, prefix, strlen(prefix)) == 0,
	    "error \"%s\" does not start with \"%s\"", errbuf, prefix);
	cr_assert(strstr(errbuf, part) != NULL,
	    "error \"%s\" does not contain \"%s\"", errbuf, part);
}

/* Loads "NAME VALUE;" before TAIL, for one-directive checks. */
static struct tern_conf *
load_one(const char *name, const char *value)
{
	char	buf[512];

	snprintf(buf, sizeof(buf), "%s %s;\n" TAIL, name, value);
	return load(buf);
}

static void
fails_one(const char *name, const char *value, const char *part)
{
	char	buf[512];

	snprintf(buf, sizeof(buf), "%s %s;\n" TAIL, name, value);
	fails(buf, 1, part);
}

Test(conf, full)
{
	struct tern_conf	*c;

	c = load(
	    "# a full configuration\n"
	    "user tern;\n"
	    "group ternd;\n"
	    "data_dir \"/srv/tern\";\n"
	    "pid_file /run/tern.pid;\n"
	    "log debug /var/log/tern.log;\n"
	    "listen c2s \"[::]:5222\";\n"
	    "listen c2s_tls \"127.0.0.1:5223\";\n"
	    "listen c2s \"*:5224\";\n"
	    "max_stanza_size 512k;\n"
	    "max_depth 32;\n"
	    "max_attrs 128;\n"
	    "max_pending_output 2m;\n"
	    "auth_timeout 1m;\n"
	    "allow_plaintext_loopback yes;\n"
	    "resource_conflict reject;\n"
	    "scram_iterations 10000;\n"
	    "store_map_size 4g;\n"
	    "host \"Example.ORG\" {\n"
	    "\tcertificate /etc/tern/a.crt \"/etc/tern/a.key\";\n"
	    "}\n"
	    "host chat.example.net {\n"
	    "\tcertificate b.crt b.key;\n"
	    "}\n");
	cr_assert_not_null(c, "%s", errbuf);
	cr_assert_str_eq(c->file, "t.conf");
	cr_assert_str_eq(c->user, "tern");
	cr_assert_str_eq(c->group, "ternd");
	cr_assert_str_eq(c->data_dir, "/srv/tern");
	cr_assert_str_eq(c->pid_file, "/run/tern.pid");
	cr_assert_eq(c->log_level, LOG_LVL_DEBUG);
	cr_assert_str_eq(c->log_dest, "/var/log/tern.log");
	cr_assert_eq(c->nlistens, 3);
	cr_assert_eq(c->listens[0].kind, LISTEN_C2S);
	cr_assert_str_eq(c->listens[0].addr, "[::]:5222");
	cr_assert_str_eq(c->listens[0].host, "::");
	cr_assert_eq(c->listens[0].port, 5222);
	cr_assert_eq(c->listens[0].line, 7);
	cr_assert_eq(c->listens[1].kind, LISTEN_C2S_TLS);
	cr_assert_str_eq(c->listens[1].host, "127.0.0.1");
	cr_assert_eq(c->listens[1].port, 5223);
	cr_assert_eq(c->listens[1].line, 8);
	cr_assert_str_eq(c->listens[2].host, "*");
	cr_assert_eq(c->listens[2].port, 5224);
	cr_assert_eq(c->limits.stanza_size, 512 * 1024);
	cr_assert_eq(c->limits.depth, 32);
	cr_assert_eq(c->limits.attrs, 128);
	cr_assert_eq(c->limits.pending_output, 2 * 1024 * 1024);
	cr_assert_eq(c->limits.auth_timeout, 60);
	cr_assert_eq(c->allow_plaintext_loopback, 1);
	cr_assert_eq(c->resource_conflict, CONFLICT_REJECT);
	cr_assert_eq(c->scram_iterations, 10000);
	cr_assert_eq(c->store_map_size, 4ULL << 30);
	cr_assert_eq(c->nhosts, 2);
	cr_assert_str_eq(c->hosts[0].name, "example.org");
	cr_assert_str_eq(c->hosts[0].cert, "/etc/tern/a.crt");
	cr_assert_str_eq(c->hosts[0].key, "/etc/tern/a.key");
	cr_assert_eq(c->hosts[0].line, 19);
	cr_assert_str_eq(c->hosts[1].name, "chat.example.net");
	conf_free(c);
}

Test(conf, hosts)
{
	struct tern_conf	*c;
	const struct conf_host	*h;

	c = load("listen c2s \"[::]:5222\";\n"
	    "host \"Example.ORG\" {\n"
	    "\tcertificate /etc/tern/a.crt \"/etc/tern/a.key\";\n"
	    "}\n"
	    "\n"
	    "host chat.example.net {\n"
	    "\tcertificate b.crt b.key;\n"
	    "}\n");
	cr_assert_not_null(c, "%s", errbuf);
	cr_assert_eq(c->nhosts, 2);
	cr_assert_str_eq(c->hosts[0].name, "example.org");
	cr_assert_str_eq(c->hosts[0].cert, "/etc/tern/a.crt");
	cr_assert_str_eq(c->hosts[0].key, "/etc/tern/a.key");
	cr_assert_eq(c->hosts[0].line, 2);
	cr_assert_str_eq(c->hosts[1].name, "chat.example.net");
	cr_assert_str_eq(c->hosts[1].cert, "b.crt");
	cr_assert_str_eq(c->hosts[1].key, "b.key");
	cr_assert_eq(c->hosts[1].line, 6);
	h = conf_host_find(c, "example.org");
	cr_assert_eq(h, &c->hosts[0]);
	h = conf_host_find(c, "chat.example.net");
	cr_assert_eq(h, &c->hosts[1]);
	cr_assert_null(conf_host_find(c, "example.com"));
	conf_free(c);
}

Test(conf, defaults)
{
	struct tern_conf	*c;

	c = load(TAIL);
	cr_assert_not_null(c, "%s", errbuf);
	cr_assert_null(c->user);
	cr_assert_null(c->group);
	cr_assert_str_eq(c->data_dir, LOCALSTATEDIR "/lib/tern");
	cr_assert_null(c->pid_file);
	cr_assert_eq(c->log_level, LOG_LVL_INFO);
	cr_assert_null(c->log_dest);
	cr_assert_eq(c->limits.stanza_size, 256 * 1024);
	cr_assert_eq(c->limits.depth, 64);
	cr_assert_eq(c->limits.attrs, 64);
	cr_assert_eq(c->limits.pending_output, 1024 * 1024);
	cr_assert_eq(c->limits.auth_timeout, 30);
	cr_assert_eq(c->allow_plaintext_loopback, 0);
	cr_assert_eq(c->resource_conflict, CONFLICT_REPLACE);
	cr_assert_eq(c->scram_iterations, 4096);
	cr_assert_eq(c->store_map_size, 1ULL << 30);
	cr_assert_eq(c->nlistens, 1);
	cr_assert_eq(c->nhosts, 1);
	conf_free(c);
}

Test(conf, sample_loads)
{
	static const char *const files[] = { "/conf/tern.conf",
	    "/conf/dev.conf" };
	struct tern_conf	*c;
	char			 path[1024];
	size_t			 i;

	module_register_builtins();
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s%s", TERN_SRCDIR, files[i]);
		c = conf_load(path, errbuf, sizeof(errbuf));
		cr_assert_not_null(c, "%s", errbuf);
		cr_assert_geq(c->nlistens, 1);
		cr_assert_geq(c->nhosts, 1);
		cr_assert_geq(c->hosts[0].nmodules, 12, "%s", path);
		conf_free(c);
	}
}

Test(conf, module_directives)
{
	struct tern_conf	*c;

	module_register_builtins();
	c = conf_load_string("listen c2s \"127.0.0.1:1\";\n"
	    "host \"a.example\" { certificate \"c\" \"k\";\n"
	    "ping_timeout 5s;\nmodules ping; }\n", "t.conf", errbuf,
	    sizeof(errbuf));
	cr_assert_not_null(c, "%s", errbuf);
	conf_free(c);
	c = conf_load_string("listen c2s \"127.0.0.1:1\";\n"
	    "host \"a.example\" { certificate \"c\" \"k\";\n"
	    "ping_timeout 5s; }\n", "t.conf", errbuf, sizeof(errbuf));
	cr_assert_null(c);
	cr_assert_not_null(strstr(errbuf, "t.conf:3: host \"a.example\": "
	    "directive of module \"ping\", which is not enabled"), "%s",
	    errbuf);
	c = conf_load_string("listen c2s \"127.0.0.1:1\";\n"
	    "host \"a.example\" { certificate \"c\" \"k\";\n"
	    "modules pnig; }\n", "t.conf", errbuf, sizeof(errbuf));
	cr_assert_null(c);
	cr_assert_str_eq(errbuf, "t.conf:3: unknown module \"pnig\"; did "
	    "you mean \"ping\"?");
	c = conf_load_string("listen c2s \"127.0.0.1:1\";\n"
	    "host \"a.example\" { certificate \"c\" \"k\";\n"
	    "modules ping ping; }\n", "t.conf", errbuf, sizeof(errbuf));
	cr_assert_null(c);
	cr_assert_not_null(strstr(errbuf, "listed twice"), "%s", errbuf);
	c = conf_load_string("listen c2s \"127.0.0.1:1\";\n"
	    "host \"a.example\" { certificate \"c\" \"k\";\n"
	    "modules ping; ping_timeout 0s; }\n", "t.conf", errbuf,
	    sizeof(errbuf));
	cr_assert_null(c, "ping_timeout below its bound must fail");
	cr_assert_not_null(strstr(errbuf, "t.conf:3:"), "%s", errbuf);
}

Test(conf, load_file)
{
	char		 path[] = "/tmp/test_conf.XXXXXX";
	const char	 text[] = "user x;\nbogus;\n";
	int		 fd;

	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, sizeof(text) - 1),
	    (ssize_t)sizeof(text) - 1);
	close(fd);
	cr_assert_null(conf_load(path, errbuf, sizeof(errbuf)));
	unlink(path);
	cr_assert(strncmp(errbuf, path, strlen(path)) == 0, "%s", errbuf);
	cr_assert(strstr(errbuf, ":2: unknown directive \"bogus\"") != NULL,
	    "%s", errbuf);
}

Test(conf, cannot_open)
{
	cr_assert_null(conf_load("/nonexistent/tern.conf", errbuf,
	    sizeof(errbuf)));
	cr_assert_str_eq(errbuf, "/nonexistent/tern.conf: cannot open: "
	    "No such file or directory");
}

Test(conf, cannot_read)
{
	cr_assert_null(conf_load("/", errbuf, sizeof(errbuf)));
	cr_assert_str_eq(errbuf, "/: cannot read: Is a directory");
}

Test(conf, nul_byte)
{
	char		 path[] = "/tmp/test_conf.XXXXXX";
	const char	 text[] = "user x;\nuser\0y;\n";
	int		 fd;

	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, sizeof(text) - 1),
	    (ssize_t)sizeof(text) - 1);
	close(fd);
	cr_assert_null(conf_load(path, errbuf, sizeof(errbuf)));
	unlink(path);
	cr_assert(strstr(errbuf, ":2: NUL byte") != NULL, "%s", errbuf);
}

Test(conf, empty_file)
{
	fails("", 1, "no host block");
	fails("\n\n# only a comment\n", 3, "no host block");
}

Test(conf, unknown_directive)
{
	fails("user x;\nlisten c2s \"*:1\";\nfrobnicate 1;\n", 3,
	    "unknown directive \"frobnicate\"");
	cr_assert_null(strstr(errbuf, "did you mean"), "%s", errbuf);
}

Test(conf, suggestions)
{
	fails("lisen c2s \"*:5222\";\n", 1,
	    "unknown directive \"lisen\"; did you mean \"listen\"?");
	fails("Listen c2s \"*:5222\";\n", 1, "did you mean \"listen\"?");
	fails("max_dpth 9;\n", 1, "did you mean \"max_depth\"?");
	fails("data_dri x;\n", 1, "did you mean \"data_dir\"?");
	fails("host a {\n\tcertficate a b;\n}\n", 2,
	    "unknown directive \"certficate\"; did you mean \"certificate\"?");
	/* Only names of the current context are suggested. */
	fails("host a {\n\tusr x;\n}\n", 2, "unknown directive \"usr\"");
	cr_assert_null(strstr(errbuf, "did you mean"), "%s", errbuf);
}

Test(conf, wrong_context)
{
	fails("user x;\ncertificate a b;\n", 2,
	    "directive \"certificate\" is not allowed at the top level; "
	    "it belongs inside a host block");
	fails("host a {\n\tuser x;\n}\n", 2,
	    "directive \"user\" is not allowed inside a host block; it "
	    "belongs at the top level");
}

Test(conf, nested_host)
{
	fails("host a {\n\tcertificate a b;\n\thost b {\n\t}\n}\n", 3,
	    "directive \"host\" is not allowed inside a host block");
}

Test(conf, argument_count)
{
	fails("listen c2s;\n", 1,
	    "invalid number of arguments in \"listen\": expected 2, got 1");
	fails("user a b;\n", 1,
	    "invalid number of arguments in \"user\": expected 1, got 2");
	fails("log info stderr x;\n", 1,
	    "invalid number of arguments in \"log\": expected 1 or 2, got 3");
	fails("max_depth;\n", 1, "expected 1, got 0");
	fails("host {\n}\n", 1,
	    "invalid number of arguments in \"host\": expected 1, got 0");
	fails("host a {\n\tcertificate a;\n}\n", 2,
	    "invalid number of arguments in \"certificate\": expected 2, "
	    "got 1");
}

Test(conf, duplicate_directive)
{
	fails("user a;\n\nmax_depth 8;\nuser b;\n", 4,
	    "duplicate directive \"user\" (first at line 1)");
	fails("host a {\n\tcertificate a b;\n\tcertificate c d;\n}\n", 3,
	    "duplicate directive \"certificate\" (first at line 2)");
	fails("log info;\nlog debug;\n", 2, "duplicate directive \"log\"");
}

Test(conf, duplicate_host)
{
	fails("host example.org {\n\tcertificate a b;\n}\n"
	    "host \"EXAMPLE.org\" {\n\tcertificate a b;\n}\n", 4,
	    "duplicate host \"example.org\" (first at line 1)");
}

Test(conf, invalid_host_name)
{
	fails("host \"bad domain\" {\n}\n", 1,
	    "invalid value \"bad domain\" for \"host\": expected a domain");
	fails("host \"\" {\n}\n", 1, "invalid value \"\" for \"host\"");
}

Test(conf, braces)
{
	fails("user x;\n}\n", 2, "unexpected \"}\"");
	fails("{\n", 1, "unexpected \"{\"");
	fails("user x;\n;\n", 2, "unexpected \";\"");
	fails("max_depth 8 {\n}\n", 1,
	    "unexpected \"{\": directive \"max_depth\" takes no block");
	fails("host a;\n", 1,
	    "directive \"host\" has no block: expected \"{\"");
	fails("host a {\n\t{\n}\n", 2, "unexpected \"{\"");
}

Test(conf, unexpected_eof)
{
	fails("host a {\n\tcertificate a b;\n", 2,
	    "unexpected end of file, expecting \";\" or \"}\": the block "
	    "opened at line 1 is not closed");
	fails("host a {", 1, "unexpected end of file");
}

Test(conf, missing_semicolon)
{
	fails("user x\n", 1, "directive \"user\" is not terminated by \";\"");
	fails("host a {\n\tcertificate a b\n}\n", 2,
	    "directive \"certificate\" is not terminated by \";\"");
	fails("user x\nmax_depth 8;\n", 1,
	    "directive \"user\" is not terminated by \";\"");
	fails("log info\n\nlisten c2s \"*:5222\";\n", 1,
	    "directive \"log\" is not terminated by \";\"");
}

Test(conf, unterminated_string)
{
	fails("user x;\nuser \"abc;\n\n", 2, "unterminated quoted string");
	fails("user \"abc\\\";\n", 1, "unterminated quoted string");
}

Test(conf, bad_quotes)
{
	fails("user \"a\\n\";\n", 1, "invalid escape \"\\n\" in quoted string");
	fails("user ab\"c\";\n", 1, "unexpected quote after \"ab\"");
	fails("user \"a\"b;\n", 1, "unexpected \"b\" after quoted string");
}

Test(conf, comments_and_quotes)
{
	struct tern_conf	*c;

	c = load("# leading comment\n"
	    "user \"a \\\"quoted\\\" \\\\ name\";   # trailing\n"
	    "group \"with # hash\";\n"
	    "data_dir \"/path with spaces/{x};\";\n"
	    "pid_file\t\"multi\nline\";\n"
	    "\"log\" warn \"syslog\";#no space\n"
	    "listen c2s \"[::1]:5222\";\r\n"
	    "host \"example.org\"{certificate \"\\\\a\" b;}\n");
	cr_assert_not_null(c, "%s", errbuf);
	cr_assert_str_eq(c->user, "a \"quoted\" \\ name");
	cr_assert_str_eq(c->group, "with # hash");
	cr_assert_str_eq(c->data_dir, "/path with spaces/{x};");
	cr_assert_str_eq(c->pid_file, "multi\nline");
	cr_assert_eq(c->log_level, LOG_LVL_WARN);
	cr_assert_str_eq(c->log_dest, "syslog");
	cr_assert_eq(c->listens[0].line, 8);
	cr_assert_str_eq(c->listens[0].host, "::1");
	cr_assert_eq(c->hosts[0].line, 9);
	cr_assert_str_eq(c->hosts[0].cert, "\\a");
	conf_free(c);
}

Test(conf, line_numbers_after_multiline_string)
{
	fails("user \"a\nb\nc\";\nbogus;\n", 4, "unknown directive \"bogus\"");
}

Test(conf, sizes)
{
	struct tern_conf	*c;

	c = load_one("max_stanza_size", "1K");
	cr_assert_not_null(c, "%s", errbuf);
	cr_assert_eq(c->limits.stanza_size, 1024);
	conf_free(c);
	c = load_one("max_stanza_size", "16m");
	cr_assert_not_null(c, "%s", errbuf);
	cr_assert_eq(c->limits.stanza_size, 16 * 1024 * 1024);
	conf_free(c);
	c = load_one("max_stanza_size", "65536");
	cr_assert_not_null(c, "%s", errbuf);
	cr_assert_eq(c->limits.stanza_size, 65536);
	conf_free(c);
	c = load_one("max_pending_output", "1G");
	cr_assert_not_null(c, "%s", errbuf);
	cr_assert_eq(c->limits.pending_output, 1 << 30);
	conf_free(c);
	c = load_one("store_map_size", "1024g");
	cr_assert_not_null(c, "%s", errbuf);
	cr_assert_eq(c->store_map_size, 1ULL << 40);
	conf_free(c);
}

Test(conf, size_errors)
{
	fails_one("max_stanza_size", "17m",
	    "invalid value \"17m\" for \"max_stanza_size\": expected a size "
	    "from 1k to 16m");
	fails_one("max_stanza_size", "1023", "from 1k to 16m");
	fails_one("max_stanza_size", "1x", "invalid value \"1x\"");
	fails_one("max_stanza_size", "1kb", "invalid value \"1kb\"");
	fails_one("max_stanza_size", "k", "invalid value \"k\"");
	fails_one("max_stanza_size", "-1k", "invalid value \"-1k\"");
	fails_one("store_map_size", "1025g", "from 1m to 1024g");
	fails_one("store_map_size", "99999999999g", "invalid value");
	fails_one("max_pending_output", "63k", "from 64k to 1g");
}

Test(conf, times)
{
	struct tern_conf	*c;

	c = load_one("auth_timeout", "45");
	cr_assert_not_null(c, "%s", errbuf);
	cr_assert_eq(c->limits.auth_timeout, 45);
	conf_free(c);
	c = load_one("auth_timeout", "1h");
	cr_assert_not_null(c, "%s", errbuf);
	cr_assert_eq(c->limits.auth_timeout, 3600);
	conf_free(c);
	c = load_one("auth_timeout", "2m");
	cr_assert_not_null(c, "%s", errbuf);
	cr_assert_eq(c->limits.auth_timeout, 120);
	conf_free(c);
	c = load_one("auth_timeout", "1s");
	cr_assert_not_null(c, "%s", errbuf);
	cr_assert_eq(c->limits.auth_timeout, 1);
	conf_free(c);
}

Test(conf, time_errors)
{
	fails_one("auth_timeout", "2h",
	    "invalid value \"2h\" for \"auth_timeout\": expected a duration "
	    "from 1s to 1h");
	fails_one("auth_timeout", "1d", "from 1s to 1h");
	fails_one("auth_timeout", "0", "from 1s to 1h");
	fails_one("auth_timeout", "3601", "from 1s to 1h");
	fails_one("auth_timeout", "1M", "invalid value \"1M\"");
	fails_one("auth_timeout", "10ms", "invalid value \"10ms\"");
}

Test(conf, numbers)
{
	struct tern_conf	*c;

	c = load_one("max_depth", "1024");
	cr_assert_not_null(c, "%s", errbuf);
	cr_assert_eq(c->limits.depth, 1024);
	conf_free(c);
	c = load_one("scram_iterations", "1000000");
	cr_assert_not_null(c, "%s", errbuf);
	cr_assert_eq(c->scram_iterations, 1000000);
	conf_free(c);
	fails_one("max_depth", "3",
	    "invalid value \"3\" for \"max_depth\": expected a number from 4 "
	    "to 1024");
	fails_one("max_depth", "1025", "from 4 to 1024");
	fails_one("max_depth", "+8", "invalid value \"+8\"");
	fails_one("max_depth", "-8", "invalid value \"-8\"");
	fails_one("max_depth", "8k", "invalid value \"8k\"");
	fails_one("max_depth", "0x10", "invalid value \"0x10\"");
	fails_one("max_depth", "\" 8\"", "invalid value \" 8\"");
	fails_one("max_depth", "99999999999999999999999", "from 4 to 1024");
	fails_one("max_attrs", "4097", "from 4 to 4096");
	fails_one("scram_iterations", "4095", "from 4096 to 1000000");
}

Test(conf, bools_and_enums)
{
	static const char *const yes[] = { "yes", "on", "true", "YES" };
	static const char *const no[] = { "no", "off", "false", "Off" };
	struct tern_conf	*c;
	size_t			 i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		c = load_one("allow_plaintext_loopback", yes[i]);
		cr_assert_not_null(c, "%s", errbuf);
		cr_assert_eq(c->allow_plaintext_loopback, 1, "%s", yes[i]);
		conf_free(c);
		c = load_one("allow_plaintext_loopback", no[i]);
		cr_assert_not_null(c, "%s", errbuf);
		cr_assert_eq(c->allow_plaintext_loopback, 0, "%s", no[i]);
		conf_free(c);
	}
	fails_one("allow_plaintext_loopback", "maybe",
	    "invalid value \"maybe\" for \"allow_plaintext_loopback\": "
	    "expected yes, no, on, off, true or false");
	c = load_one("resource_conflict", "replace");
	cr_assert_not_null(c, "%s", errbuf);
	cr_assert_eq(c->resource_conflict, CONFLICT_REPLACE);
	conf_free(c);
	fails_one("resource_conflict", "kick",
	    "invalid value \"kick\" for \"resource_conflict\": expected "
	    "replace or reject");
}

Test(conf, strings)
{
	fails_one("user", "\"\"",
	    "invalid value \"\" for \"user\": expected a non-empty string");
	fails("host a {\n\tcertificate \"\" b;\n}\n", 2,
	    "invalid value \"\" for \"certificate\"");
}

Test(conf, log)
{
	struct tern_conf	*c;

	c = load_one("log", "error");
	cr_assert_not_null(c, "%s", errbuf);
	cr_assert_eq(c->log_level, LOG_LVL_ERROR);
	cr_assert_null(c->log_dest);
	conf_free(c);
	c = load_one("log", "warn stderr");
	cr_assert_not_null(c, "%s", errbuf);
	cr_assert_eq(c->log_level, LOG_LVL_WARN);
	cr_assert_str_eq(c->log_dest, "stderr");
	conf_free(c);
	fails_one("log", "verbose",
	    "invalid value \"verbose\" for \"log\": expected error, warn, "
	    "info or debug");
	fails_one("log", "info \"\"", "invalid value \"\" for \"log\"");
}

Test(conf, listen)
{
	struct tern_conf	*c;

	c = load("listen c2s LOCALHOST:5222;\nlisten c2s_tls \"[::]:1\";\n"
	    "listen c2s \"0.0.0.0:65535\";\n"
	    "host a {\n\tcertificate a b;\n}\n");
	cr_assert_not_null(c, "%s", errbuf);
	cr_assert_str_eq(c->listens[0].host, "localhost");
	cr_assert_str_eq(c->listens[0].addr, "LOCALHOST:5222");
	cr_assert_eq(c->listens[0].port, 5222);
	cr_assert_str_eq(c->listens[1].host, "::");
	cr_assert_eq(c->listens[1].port, 1);
	cr_assert_eq(c->listens[2].port, 65535);
	conf_free(c);
}

Test(conf, binary_mode_and_listeners)
{
	struct tern_conf	*c;

	c = load("listen c2s_bin \"127.0.0.1:5300\";\n"
	    "listen c2s_bin_tls \"127.0.0.1:5301\";\n"
	    "host a {\n\tcertificate a b;\n}\n");
	cr_assert_not_null(c, "%s", errbuf);
	cr_assert_eq(c->listens[0].kind, LISTEN_C2S_BIN);
	cr_assert_eq(c->listens[1].kind, LISTEN_C2S_BIN_TLS);
	cr_assert_eq(c->binary_mode, 1, "binary_mode defaults to yes");
	conf_free(c);
	c = load_one("binary_mode", "no");
	cr_assert_not_null(c, "%s", errbuf);
	cr_assert_eq(c->binary_mode, 0);
	conf_free(c);
	fails_one("binary_mode", "maybe", "invalid value \"maybe\"");
}

Test(conf, listen_errors)
{
	fails("listen s3s \"*:5269\";\n", 1,
	    "invalid value \"s3s\" for \"listen\": expected c2s, c2s_tls, "
	    "c2s_bin, c2s_bin_tls, s2s or s2s_tls");
	fails("listen c2s \"*:0\";\n", 1,
	    "invalid value \"*:0\" for \"listen\": the port must be a "
	    "number from 1 to 65535");
	fails("listen c2s \"*:65536\";\n", 1, "from 1 to 65535");
	fails("listen c2s \"*:\";\n", 1, "from 1 to 65535");
	fails("listen c2s \"*:+5\";\n", 1, "from 1 to 65535");
	fails("listen c2s 5222;\n", 1, "expected \"HOST:PORT\"");
	fails("listen c2s \":::5222\";\n", 1,
	    "an IPv6 address goes in brackets");
	fails("listen c2s \"[::1:5222\";\n", 1, "expected \"[IPV6]:PORT\"");
	fails("listen c2s \"[::1]5222\";\n", 1, "expected \"[IPV6]:PORT\"");
	fails("listen c2s \"[1.2.3.4]:5222\";\n", 1,
	    "the host must be an IP address");
	fails("listen c2s \"example.org:5222\";\n", 1,
	    "the host must be an IP address, \"*\" or \"localhost\"");
	fails("listen c2s \"1.2.3.256:5222\";\n", 1,
	    "the host must be an IP address");
	fails("listen c2s \":5222\";\n", 1, "the host must be");
}

Test(conf, semantic_checks)
{
	fails("listen c2s \"*:5222\";\n", 1,
	    "no host block: at least one \"host NAME { ... }\" is required");
	fails("listen c2s \"*:5222\";\n\nhost a {\n}\n", 3,
	    "host \"a\" has no certificate directive");
	fails("host a {\n\tcertificate a b;\n}\n", 3,
	    "no listen directive: at least one is required");
	fails("listen c2s \"[::]:5222\";\nhost a {\n\tcertificate a b;\n}\n"
	    "listen c2s_tls \"[0::0]:5222\";\n", 5,
	    "duplicate listen address \"[0::0]:5222\" (first at line 1)");
	fails("listen c2s \"*:5222\";\nlisten c2s \"*:5222\";\n"
	    "host a {\n\tcertificate a b;\n}\n", 2,
	    "duplicate listen address \"*:5222\" (first at line 1)");
	fails("listen c2s localhost:5222;\nlisten c2s LocalHost:5222;\n"
	    "host a {\n\tcertificate a b;\n}\n", 2,
	    "duplicate listen address \"LocalHost:5222\" (first at line 1)");
	fails("listen c2s \"*:5222\";\nlisten c2s \"0.0.0.0:5222\";\n"
	    "host a {\n\tcertificate a b;\n}\n", 2,
	    "listen address \"0.0.0.0:5222\" overlaps \"*:5222\" (line 1): "
	    "both listen on all addresses");
	fails("listen c2s \"[::]:5222\";\nlisten c2s \"*:5222\";\n"
	    "host a {\n\tcertificate a b;\n}\n", 2, "overlaps \"[::]:5222\"");
}

Test(conf, distinct_listen_ports)
{
	struct tern_conf	*c;

	c = load("listen c2s \"*:5222\";\nlisten c2s \"*:5223\";\n"
	    "listen c2s \"127.0.0.1:5222\";\n"
	    "host a {\n\tcertificate a b;\n}\n");
	cr_assert_not_null(c, "%s", errbuf);
	cr_assert_eq(c->nlistens, 3);
	conf_free(c);
}

Test(conf, first_error_wins)
{
	fails("user a;\nuser b;\nbogus;\n", 2, "duplicate directive");
	cr_assert_null(strstr(errbuf, "bogus"), "%s", errbuf);
}

Test(conf, small_error_buffer)
{
	char	small[8];

	cr_assert_null(conf_load_string("bogus;\n", "t.conf", small,
	    sizeof(small)));
	cr_assert_str_eq(small, "t.conf:");
	cr_assert_null(conf_load_string("bogus;\n", "t.conf", NULL, 0));
}

Test(conf, free_null)
{
	conf_free(NULL);
}

Test(conf, relative_paths_follow_the_file)
{
	char			 dir[] = "/tmp/tern-conf-XXXXXX", path[128];
	char			 err[512], want[256];
	struct tern_conf	*c;
	FILE			*f;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t.conf", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("data_dir \"data\";\npid_file \"/run/tern.pid\";\n"
	    "log info \"../log/tern.log\";\n"
	    "listen c2s \"127.0.0.1:5222\";\n"
	    "host \"a.example\" { certificate \"c.pem\" \"/k.pem\"; }\n", f);
	fclose(f);
	c = conf_load(path, err, sizeof(err));
	cr_assert_not_null(c, "%s", err);
	snprintf(want, sizeof(want), "%s/data", dir);
	cr_assert_str_eq(c->data_dir, want);
	cr_assert_str_eq(c->pid_file, "/run/tern.pid");
	snprintf(want, sizeof(want), "%s/../log/tern.log", dir);
	cr_assert_str_eq(c->log_dest, want);
	snprintf(want, sizeof(want), "%s/c.pem", dir);
	cr_assert_str_eq(c->hosts[0].cert, want);
	cr_assert_str_eq(c->hosts[0].key, "/k.pem");
	conf_free(c);
	unlink(path);
	rmdir(dir);
}

/* man/tern.conf.5 documents every directive, core and module. */
Test(conf, every_directive_is_documented)
{
	const struct conf_directive	*d;
	const struct conf_modtab	*m;
	char				*man, want[128];
	FILE				*f;
	long				 len;
	size_t				 i;

	module_register_builtins();
	f = fopen(TERN_SRCDIR "/man/tern.conf.5", "r");
	cr_assert_not_null(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	man = malloc((size_t)len + 1);
	cr_assert_eq(fread(man, 1, (size_t)len, f), (size_t)len);
	man[len] = '\0';
	fclose(f);
	for (d = conf_core_directives(); d->name != NULL; d++) {
		snprintf(want, sizeof(want), ".It Ic %s ", d->name);
		cr_expect_not_null(strstr(man, want), "%s is not in tern.conf.5",
		    d->name);
	}
	for (i = 0; (m = conf_module_get(i)) != NULL; i++) {
		snprintf(want, sizeof(want), ".It Cm %s\n", m->name);
		cr_expect_not_null(strstr(man, want), "module %s is not in "
		    "tern.conf.5", m->name);
		for (d = m->table; d != NULL && d->name != NULL; d++) {
			snprintf(want, sizeof(want), ".It Ic %s ", d->name);
			cr_expect_not_null(strstr(man, want), "%s (module %s) "
			    "is not in tern.conf.5", d->name, m->name);
		}
	}
	free(man);
}

Test(conf, s2s_directives)
{
	struct tern_conf		*c;
	const struct conf_s2s_route	*r;

	c = load("s2s_route \"B.test\" \"127.0.0.1:5270\";\n"
	    "s2s_route \"c.test\" \"[::1]:7\";\n"
	    "s2s_route \"d.test\" \"xmpp.d.test:5269\";\n"
	    "listen s2s \"127.0.0.1:5269\";\n"
	    "listen s2s_tls \"127.0.0.1:5270\";\n" TAIL);
	cr_assert_not_null(c, "%s", errbuf);
	cr_assert_eq(c->listens[0].kind, LISTEN_S2S);
	cr_assert_eq(c->listens[1].kind, LISTEN_S2S_TLS);
	cr_assert_not_null(r = conf_s2s_route_find(c, "b.test"));
	cr_assert_str_eq(r->host, "127.0.0.1");
	cr_assert_eq(r->port, 5270);
	cr_assert_not_null(r = conf_s2s_route_find(c, "c.test"));
	cr_assert_str_eq(r->host, "::1");
	cr_assert_eq(r->port, 7);
	cr_assert_str_eq(conf_s2s_route_find(c, "d.test")->host,
	    "xmpp.d.test");
	cr_assert_null(conf_s2s_route_find(c, "e.test"));
	cr_assert_eq(c->s2s.idle_timeout, 600);
	cr_assert_eq(c->s2s.connect_timeout, 30);
	cr_assert_eq(c->s2s.queue_max, 256);
	conf_free(c);

	fails("s2s_route \"b.test\" \"1.2.3.4:1\";\n"
	    "s2s_route \"B.TEST\" \"1.2.3.4:2\";\n", 2,
	    "duplicate s2s_route for \"B.TEST\" (first at line 1)");
	fails("s2s_route \"b.test\" \"1.2.3.4\";\n", 1,
	    "invalid value \"1.2.3.4\" for \"s2s_route\"");
	fails("s2s_route \"b.test\" \"::1:5269\";\n", 1,
	    "for \"s2s_route\"");
	fails("s2s_route \"b.test\" \"h:0\";\n", 1, "from 1 to 65535");
	fails("s2s_route \"b@test\" \"h:1\";\n", 1, "a domain name");
	fails("s2s_idle_timeout 0s;\n", 1, "s2s_idle_timeout");
	fails("dns_nameserver \"resolver.example\";\n", 1,
	    "invalid value \"resolver.example\" for \"dns_nameserver\"");
	c = load("dns_nameserver \"127.0.0.1:5300\";\n"
	    "s2s_ca_file \"/etc/ssl/ca.pem\";\n" TAIL);
	cr_assert_not_null(c, "%s", errbuf);
	cr_assert_str_eq(c->s2s.nameserver, "127.0.0.1:5300");
	cr_assert_str_eq(c->s2s.ca_file, "/etc/ssl/ca.pem");
	conf_free(c);
	fails("s2s_queue_max 0;\n", 1, "s2s_queue_max");
}
