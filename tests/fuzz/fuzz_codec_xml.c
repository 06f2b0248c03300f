/*
 * libFuzzer target: the XML codec (codec_xml.c) as a client stream meets
 * it, fed in chunks whose sizes the input chooses.
 *
 * Input: byte 0 holds flags, byte 1 the number n of chunk sizes (mod 16),
 * the next n bytes the sizes (1..256, used in turn); the rest is the
 * client's stream.  Flags:
 *	0x01	prepend a valid stream header
 *	0x0e	restart the stream from inside every Nth stanza callback
 *		(N = bits 1-3; 0: never), as after SASL success
 *	0x10	pause before that restart, as for <starttls/>
 *	0x20	the smallest limits tern.conf allows (stanza 1k, depth 4,
 *		attrs 4) instead of the defaults (256k, 64, 64)
 *
 * Checked for every stanza: it respects the limits, and serializing it
 * and parsing the text again (codec_xml_parse_one) gives an equal tree.
 * Every stream header written back for the one received parses to the
 * same attributes.  Without pause, the same input fed in one piece must
 * give the same events as the chunked run (see same_events).  A broken
 * rule aborts.  With FUZZ_CODEC_TRACE set in the environment, the events
 * of the chunked run are printed (build-fuzz/tests/fuzz/fuzz_codec_xml
 * FILE).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "codec.h"
#include "conf.h"
#include "log.h"
#include "stanza.h"
#include "xmalloc.h"

#define F_HEADER	0x01
#define F_RESTART(f)	(((f) >> 1) & 7)
#define F_PAUSE		0x10
#define F_SMALL		0x20

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char	 header[] = "<?xml version='1.0'?><stream:stream "
			    "xmlns='jabber:client' xmlns:stream='http://"
			    "etherx.jabber.org/streams' to='example.org' "
			    "version='1.0' xml:lang='en'>";

/* The conditions codec.h allows cb->error to report. */
static const char *const conditions[] = {
	"not-well-formed", "invalid-namespace", "policy-violation",
	"restricted-xml", "unsupported-encoding", "bad-format",
	"resource-constraint", NULL
};

struct run {
	void			*codec;
	const struct tern_limits *lim;
	struct evbuffer		*events;	/* what happened, as text */
	unsigned		 nstanzas;
	unsigned		 restart_every;
	int			 pause;
	int			 errors;
};

static void
die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_codec_xml: %s%s%s\n", what,
	    detail != NULL ? ": " : "", detail != NULL ? detail : "");
	abort();
}

static char *
to_xml(const struct stanza *st, const char *parent_ns)
{
	struct evbuffer	*b = evbuffer_new();
	size_t		 len;
	char		*s;

	if (b == NULL)
		die("evbuffer_new", NULL);
	codec_xml_serialize(st, b, parent_ns);
	len = evbuffer_get_length(b);
	s = xmalloc(len + 1);
	evbuffer_remove(b, s, len);
	s[len] = '\0';
	evbuffer_free(b);
	return s;
}

static int
str_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static const struct stanza_attr *
attr_find(const struct stanza *st, const struct stanza_attr *a)
{
	size_t	i;

	for (i = 0; i < st->nattrs; i++)
		if (str_same(st->attrs[i].ns, a->ns) &&
		    strcmp(st->attrs[i].name, a->name) == 0)
			return &st->attrs[i];
	return NULL;
}

/* Same ns, name, attributes (any order) and children, recursively. */
static int
tree_equal(const struct stanza *a, const struct stanza *b)
{
	const struct stanza_attr	*ba;
	size_t				 i;

	if (!str_same(a->ns, b->ns) || strcmp(a->name, b->name) != 0 ||
	    a->nattrs != b->nattrs || a->nkids != b->nkids)
		return 0;
	for (i = 0; i < a->nattrs; i++)
		if ((ba = attr_find(b, &a->attrs[i])) == NULL ||
		    strcmp(ba->value, a->attrs[i].value) != 0)
			return 0;
	for (i = 0; i < a->nkids; i++) {
		if ((a->kids[i].el == NULL) != (b->kids[i].el == NULL))
			return 0;
		if (a->kids[i].el != NULL) {
			if (!tree_equal(a->kids[i].el, b->kids[i].el))
				return 0;
		} else if (a->kids[i].textlen != b->kids[i].textlen ||
		    memcmp(a->kids[i].text, b->kids[i].text,
		    a->kids[i].textlen) != 0)
			return 0;
	}
	return 1;
}

/* Nesting (the top-level element is 1) within lim, attributes too. */
static void
check_limits(const struct stanza *st, const struct tern_limits *lim,
    unsigned level)
{
	size_t	i;

	if (level > lim->depth)
		die("element deeper than max_depth", st->name);
	if (st->nattrs > lim->attrs)
		die("more attributes than max_attrs", st->name);
	for (i = 0; i < st->nkids; i++) {
		if (st->kids[i].el != NULL)
			check_limits(st->kids[i].el, lim, level + 1);
		else if (st->kids[i].textlen == 0 ||
		    strlen(st->kids[i].text) != st->kids[i].textlen)
			die("empty text node or NUL in text", st->name);
	}
}

static void
check_round_trip(const struct stanza *st)
{
	struct stanza	*again;
	char		*xml;

	xml = to_xml(st, STANZA_NS_CLIENT);
	if ((again = codec_xml_parse_one(xml, strlen(xml))) == NULL)
		die("serialized stanza does not parse", xml);
	if (!tree_equal(st, again))
		die("serialized stanza parses to another tree", xml);
	stanza_unref(again);
	free(xml);
}

/*
 * The header the server writes back for this one parses to the same
 * attributes: what a peer put in 'to', 'id' or xml:lang cannot break
 * out of its attribute.
 */
struct hdr_check {
	struct stanza	*hdr;
	int		 closed;
	int		 failed;
};

static void
hc_open(void *arg, const struct stanza *hdr)
{
	struct hdr_check	*hc = arg;

	if (hc->hdr == NULL)
		hc->hdr = stanza_copy(hdr);
}

static void
hc_stanza(void *arg, struct stanza *st)
{
	((struct hdr_check *)arg)->failed = 1;
}

static void
hc_close(void *arg)
{
	((struct hdr_check *)arg)->closed = 1;
}

static void
hc_error(void *arg, const char *cond, const char *text)
{
	((struct hdr_check *)arg)->failed = 1;
}

static void
check_header(const struct stanza *hdr)
{
	/* A client is not bound by our limits: the header has 7 attributes. */
	static const struct tern_limits	lim = { .stanza_size = 1 << 20,
					    .depth = 64, .attrs = 64 };
	static const struct codec_cb	cb = {
		hc_open, hc_stanza, hc_close, hc_error
	};
	static const char *const	names[][2] = {
		{ NULL, "from" }, { NULL, "to" }, { NULL, "id" },
		{ NULL, "version" }, { STANZA_NS_XML, "lang" },
	};
	struct hdr_check		hc = { NULL, 0, 0 };
	struct evbuffer			*b = evbuffer_new();
	void				*c;
	size_t				 i, len;
	char				*s;

	c = codec_xml.create(&cb, &hc, STANZA_NS_CLIENT, &lim);
	codec_xml.write_header(c, b, hdr);
	codec_xml.write_close(c, b);
	len = evbuffer_get_length(b);
	s = xmalloc(len + 1);
	evbuffer_remove(b, s, len);
	s[len] = '\0';
	if (codec_xml.feed(c, s, len) == -1 || hc.failed || !hc.closed ||
	    hc.hdr == NULL)
		die("written stream header does not parse", s);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!str_same(stanza_attr_ns(hdr, names[i][0], names[i][1]),
		    stanza_attr_ns(hc.hdr, names[i][0], names[i][1])))
			die("written stream header changed an attribute", s);
	codec_xml.destroy(c);
	stanza_unref(hc.hdr);
	evbuffer_free(b);
	free(s);
}

static void
on_open(void *arg, const struct stanza *hdr)
{
	struct run	*r = arg;
	char		*xml;

	if (hdr->nkids != 0 || strcmp(hdr->name, "stream") != 0 ||
	    !str_same(hdr->ns, STANZA_NS_STREAMS))
		die("stream header is not an empty stream element", NULL);
	check_limits(hdr, r->lim, 1);
	check_header(hdr);
	xml = to_xml(hdr, STANZA_NS_CLIENT);
	evbuffer_add_printf(r->events, "open %s\n", xml);
	free(xml);
}

static void
on_stanza(void *arg, struct stanza *st)
{
	struct run	*r = arg;
	char		*xml;

	check_limits(st, r->lim, 1);
	check_round_trip(st);
	xml = to_xml(st, STANZA_NS_CLIENT);
	evbuffer_add_printf(r->events, "stanza %s\n", xml);
	free(xml);
	if (r->restart_every != 0 && ++r->nstanzas % r->restart_every == 0) {
		evbuffer_add_printf(r->events, "restart\n");
		if (r->pause)
			codec_xml.pause(r->codec);
		codec_xml.restart(r->codec);
	}
}

static void
on_close(void *arg)
{
	struct run	*r = arg;

	evbuffer_add_printf(r->events, "close\n");
}

static void
on_error(void *arg, const char *cond, const char *text)
{
	struct run	*r = arg;
	size_t		 i;

	if (r->errors++ != 0)
		die("cb->error called twice", cond);
	for (i = 0; conditions[i] != NULL; i++)
		if (strcmp(cond, conditions[i]) == 0)
			break;
	if (conditions[i] == NULL)
		die("unknown stream error condition", cond);
	if (text == NULL || text[0] == '\0')
		die("stream error without text", cond);
	/* The text names a position, which depends on the chunks. */
	evbuffer_add_printf(r->events, "error %s\n", cond);
}

static const struct codec_cb	callbacks = {
	on_open, on_stanza, on_close, on_error
};

/*
 * Feeds buf in chunks of sizes[i % nsizes] + 1 bytes (all at once when
 * nsizes is 0); returns the events as a string (caller frees).
 */
static char *
run(const char *buf, size_t len, const uint8_t *sizes, size_t nsizes,
    uint8_t flags, const struct tern_limits *lim)
{
	struct run	 r;
	size_t		 n, i = 0;
	int		 rc;
	char		*s;

	memset(&r, 0, sizeof(r));
	r.lim = lim;
	r.restart_every = F_RESTART(flags);
	r.pause = (flags & F_PAUSE) != 0;
	if ((r.events = evbuffer_new()) == NULL)
		die("evbuffer_new", NULL);
	r.codec = codec_xml.create(&callbacks, &r, STANZA_NS_CLIENT, lim);
	while (len > 0) {
		n = nsizes == 0 ? len : (size_t)sizes[i++ % nsizes] + 1;
		if (n > len)
			n = len;
		rc = codec_xml.feed(r.codec, buf, n);
		if ((rc == -1) != (r.errors != 0))
			die("feed's result disagrees with cb->error", NULL);
		if (rc == -1) {
			/* Nothing more is parsed, and nothing is called. */
			if (codec_xml.feed(r.codec, "<a/>", 4) != -1 ||
			    r.errors != 1)
				die("codec parsed after an error", NULL);
			break;
		}
		buf += n;
		len -= n;
	}
	codec_xml.destroy(r.codec);
	n = evbuffer_get_length(r.events);
	s = xmalloc(n + 1);
	evbuffer_remove(r.events, s, n);
	s[n] = '\0';
	evbuffer_free(r.events);
	return s;
}

/*
 * The two runs must report the same events.  Only one may end with an
 * error the other has not seen yet: expat holds back a token it cannot
 * classify until more bytes arrive (" \0" at the start of a document is
 * an error when the bytes come one by one, and pending when together).
 * Both ending with an error, the condition may differ: "]]>" between
 * stanzas is character data (bad-format) when "]" comes alone, and
 * not-well-formed when expat sees the three together.
 */
static const char *
error_event(const char *ev)
{
	size_t	 n = strlen(ev);
	const char *last;

	/* An error is the last event; a stanza's line ends with '>'. */
	if (n < 2)
		return NULL;
	for (last = ev + n - 1; last > ev && last[-1] != '\n'; last--)
		;
	if (strncmp(last, "error ", 6) != 0 || strchr(last, '>') != NULL)
		return NULL;
	return last;
}

static int
same_events(const char *a, const char *b)
{
	const char	*ea, *eb;
	size_t		 la, lb;

	ea = error_event(a);
	eb = error_event(b);
	la = ea != NULL ? (size_t)(ea - a) : strlen(a);
	lb = eb != NULL ? (size_t)(eb - b) : strlen(b);
	return la == lb && memcmp(a, b, la) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct tern_limits	 dflt = {
		.stanza_size = 256 << 10, .depth = 64, .attrs = 64
	};
	static const struct tern_limits	 small = {
		.stanza_size = 1 << 10, .depth = 4, .attrs = 4
	};
	static int			 once, trace;
	const struct tern_limits	*lim;
	const uint8_t			*sizes;
	size_t				 nsizes, len, hlen;
	uint8_t				 flags;
	char				*buf, *chunked, *whole;

	if (!once) {
		once = 1;
		trace = getenv("FUZZ_CODEC_TRACE") != NULL;
		log_init(LOG_LVL_ERROR, NULL, "fuzz_codec_xml");
	}
	if (size < 2)
		return 0;
	flags = data[0];
	nsizes = data[1] % 16;
	if (size < 2 + nsizes)
		return 0;
	sizes = data + 2;
	data += 2 + nsizes;
	size -= 2 + nsizes;
	lim = (flags & F_SMALL) ? &small : &dflt;

	hlen = (flags & F_HEADER) ? sizeof(header) - 1 : 0;
	len = hlen + size;
	buf = xmalloc(len + 1);
	memcpy(buf, header, hlen);
	memcpy(buf + hlen, data, size);
	buf[len] = '\0';

	chunked = run(buf, len, sizes, nsizes, flags, lim);
	if (trace)
		fprintf(stderr, "%s", chunked);
	if (!(flags & F_PAUSE) && nsizes != 0) {
		/* pause() drops the rest of a chunk: that depends on them. */
		whole = run(buf, len, NULL, 0, flags, lim);
		if (!same_events(chunked, whole)) {
			fprintf(stderr, "chunked:\n%s\nat once:\n%s\n",
			    chunked, whole);
			die("chunks change what the codec reports", NULL);
		}
		free(whole);
	}
	free(chunked);
	free(buf);
	return 0;
}
