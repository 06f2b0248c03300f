/*
 * An example of a module built outside the tree against the installed
 * tern/module.h (see tests/interop/test_load_module.py):
 *
 *	cc -shared $(pkg-config --cflags tern-module) -o mod_hello.so \
 *	    mod_hello.c
 *
 * and in tern.conf:  load_module "/path/mod_hello.so";
 *                    host "example.org" { modules hello; hello_greeting "hi"; }
 *
 * It answers <query xmlns='urn:example:hello'/> sent to the server with
 * the configured greeting.
 */
#include <stddef.h>

#include <tern/module.h>

#define NS_HELLO	"urn:example:hello"

struct hello_conf {
	char	*greeting;
};

static int
hello(struct tern_event *ev, void *arg)
{
	struct hello_conf	*conf = arg;
	struct tern_stanza	*r = tern_stanza_reply(ev->stanza);

	tern_stanza_add_text_child(tern_stanza_add_child(r, NS_HELLO,
	    "query"), NULL, "greeting", conf->greeting);
	tern_reply(ev, r);
	tern_stanza_unref(r);
	return TERN_DONE;
}

static const char *const features[] = { NS_HELLO, NULL };

static const struct tern_hook hooks[] = {
	{ "iq-get/host/" NS_HELLO ":query", TERN_PRIO_DEFAULT, hello },
	{ NULL, 0, NULL }
};

static const struct tern_directive directives[] = {
	{ "hello_greeting", TERN_CONF_STR,
	    offsetof(struct hello_conf, greeting), 0, 0, "hello", NULL },
	{ NULL, 0, 0, 0, 0, NULL, NULL }
};

const struct tern_module mod_hello = {
	.abi = TERN_MODULE_ABI,
	.name = "hello",
	.features = features,
	.directives = directives,
	.conf_size = sizeof(struct hello_conf),
	.hooks = hooks,
};
