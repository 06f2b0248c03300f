/*
 * libFuzzer target: the binary codec (codec_bin.c) as a client stream
 * meets it, fed in chunks whose sizes the input chooses.
 *
 * Input: byte 0 holds flags, byte 1 the number n of chunk sizes (mod 16),
 * the next n bytes the sizes (1..256, used in turn); the rest is the
 * client's stream.  Flags:
 *	0x01	prepend a valid HEADER frame (to='example.org')
 *	0x0e	restart the stream from inside every Nth stanza callback
 *		(N = bits 1-3; 0: never), as after SASL success
 *	0x10	pause before that restart, as for <starttls/>
 *	0x20	the smallest limits tern.conf allows (stanza 1k, depth 4,
 *		attrs 4) instead of the defaults (256k, 64, 64)
 *	0x40	the rest is XML stanzas, not frames: each one the XML codec
 *		accepts is encoded, decoded and compared (the encoder's side)
 *
 * Checked for every stanza decoded: it respects the limits; written as
 * XML it parses back to an equal tree (a binary peer cannot make tern
 * write broken XML to an XML peer); encoded again it decodes to an equal
 * tree.  Without pause, the same input fed in one piece gives exactly
 * the same events as the chunked run.  A broken rule aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "codec.h"
#include "codec_bin.h"
#include "conf.h"
#include "log.h"
#include "stanza.h"
#include "xmalloc.h"

#define F_HEADER	0x01
#define F_RESTART(f)	(((f) >> 1) & 7)
#define F_PAUSE		0x10
#define F_SMALL		0x20
#define F_XML		0x40

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const conditions[] = {
	"not-well-formed", "invalid-namespace", "policy-violation",
	"restricted-xml", "unsupported-encoding", "bad-format",
	"resource-constraint", "unsupported-version", NULL
};

static const struct tern_limits	deflim = { .stanza_size = 256 * 1024,
				    .depth = 64, .attrs = 64 };
static const struct tern_limits	smallim = { .stanza_size = 1024,
				    .depth = 4, .attrs = 4 };

struct run {
	void			*codec;
	const struct tern_limits *lim;
	struct evbuffer		*events;
	unsigned		 nstanzas;
	unsigned		 restart_every;
	int			 pause;
	int			 errors;
	char			*domain;
};

static void
die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_codec_bin: %s%s%s\n", what,
	    detail != NULL ? ": " : "", detail != NULL ? detail : "");
	abort();
}

static char *
to_xml(const struct stanza *st)
{
	struct evbuffer	*b = evbuffer_new();
	size_t		 len;
	char		*s;

	codec_xml_serialize(st, b, STANZA_NS_CLIENT);
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

static int
tree_equal(const struct stanza *a, const struct stanza *b)
{
	size_t	i;

	if (!str_same(a->ns, b->ns) || strcmp(a->name, b->name) != 0 ||
	    a->nattrs != b->nattrs || a->nkids != b->nkids)
		return 0;
	for (i = 0; i < a->nattrs; i++)
		if (!str_same(a->attrs[i].ns, b->attrs[i].ns) ||
		    strcmp(a->attrs[i].name, b->attrs[i].name) != 0 ||
		    strcmp(a->attrs[i].value, b->attrs[i].value) != 0)
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

/* XML and binary again, each giving back the same tree. */
static void
check_round_trips(const struct stanza *st, const char *domain)
{
	struct tern_limits	 big = { .stanza_size = 1 << 26,
				    .depth = 2048, .attrs = 1 << 16 };
	struct evbuffer		*b = evbuffer_new();
	struct stanza		*again;
	const char		*cond = NULL;
	unsigned char		*p;
	char			*xml, text[200];
	size_t			 len, off;

	xml = to_xml(st);
	if ((again = codec_xml_parse_one(xml, strlen(xml))) == NULL)
		die("stanza written as XML does not parse", xml);
	if (!tree_equal(st, again))
		die("stanza written as XML parses to another tree", xml);
	stanza_unref(again);
	codec_bin_write_frame(b, BIN_STANZA, st, STANZA_NS_CLIENT, domain);
	len = evbuffer_get_length(b);
	p = evbuffer_pullup(b, -1);
	for (off = 1; p[off] & 0x80; off++)
		;
	off++;
	again = codec_bin_read_body(p + off, len - off, STANZA_NS_CLIENT,
	    domain, &big, &cond, text, sizeof(text));
	if (again == NULL)
		die("re-encoded stanza does not decode", text);
	if (!tree_equal(st, again))
		die("re-encoded stanza decodes to another tree", xml);
	stanza_unref(again);
	evbuffer_free(b);
	free(xml);
}

static void
on_open(void *arg, const struct stanza *hdr)
{
	struct run	*r = arg;
	char		*xml;
	const char	*to = stanza_attr(hdr, "to");

	if (hdr->nkids != 0 || strcmp(hdr->name, "stream") != 0 ||
	    !str_same(hdr->ns, STANZA_NS_STREAMS))
		die("stream header is not an empty stream element", NULL);
	check_limits(hdr, r->lim, 1);
	free(r->domain);
	r->domain = to != NULL ? xstrdup(to) : NULL;
	xml = to_xml(hdr);
	evbuffer_add_printf(r->events, "open %s\n", xml);
	free(xml);
}

static void
on_stanza(void *arg, struct stanza *st)
{
	struct run	*r = arg;
	char		*xml;

	check_limits(st, r->lim, 1);
	check_round_trips(st, r->domain);
	xml = to_xml(st);
	evbuffer_add_printf(r->events, "stanza %s\n", xml);
	free(xml);
	if (r->restart_every != 0 && ++r->nstanzas % r->restart_every == 0) {
		evbuffer_add_printf(r->events, "restart\n");
		if (r->pause)
			codec_bin.pause(r->codec);
		codec_bin.restart(r->codec);
	}
}

static void
on_close(void *arg)
{
	evbuffer_add_printf(((struct run *)arg)->events, "close\n");
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
	evbuffer_add_printf(r->events, "error %s %s\n", cond, text);
}

static const struct codec_cb	callbacks = {
	on_open, on_stanza, on_close, on_error
};

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
	r.codec = codec_bin.create(&callbacks, &r, STANZA_NS_CLIENT, lim);
	while (len > 0) {
		n = nsizes == 0 ? len : (size_t)sizes[i++ % nsizes] + 1;
		if (n > len)
			n = len;
		rc = codec_bin.feed(r.codec, buf, n);
		if ((rc == -1) != (r.errors != 0))
			die("feed's result disagrees with cb->error", NULL);
		if (rc == -1) {
			if (codec_bin.feed(r.codec, "\x00\x00", 2) != -1 ||
			    r.errors != 1)
				die("codec parsed after an error", NULL);
			break;
		}
		buf += n;
		len -= n;
	}
	codec_bin.destroy(r.codec);
	free(r.domain);
	n = evbuffer_get_length(r.events);
	s = xmalloc(n + 1);
	evbuffer_remove(r.events, s, n);
	s[n] = '\0';
	evbuffer_free(r.events);
	return s;
}

/* 0x40: XML stanzas through the encoder and back. */
static void
xml_stanza(void *arg, struct stanza *st)
{
	check_round_trips(st, (const char *)arg);
}

static void
xml_nothing(void *arg)
{
}

static void
xml_open(void *arg, const struct stanza *hdr)
{
}

static void
xml_error(void *arg, const char *cond, const char *text)
{
}

static void
run_xml(const char *buf, size_t len)
{
	static const char	 hdr[] = "<stream:stream xmlns='jabber:client' "
				    "xmlns:stream='http://etherx.jabber.org/"
				    "streams' to='example.org'>";
	static const struct codec_cb cb = {
		xml_open, xml_stanza, xml_nothing, xml_error
	};
	void			*c;

	c = codec_xml.create(&cb, (void *)"example.org", STANZA_NS_CLIENT,
	    &deflim);
	if (codec_xml.feed(c, hdr, sizeof(hdr) - 1) == 0)
		codec_xml.feed(c, buf, len);
	codec_xml.destroy(c);
}

/* The HEADER frame the codec itself writes for to='example.org'. */
static struct evbuffer *
header_frame(void)
{
	static const struct codec_cb cb = {
		xml_open, xml_stanza, xml_nothing, xml_error
	};
	struct evbuffer	*b = evbuffer_new();
	struct stanza	*hdr = stanza_new(STANZA_NS_STREAMS, "stream");
	void		*c = codec_bin.create(&cb, NULL, STANZA_NS_CLIENT,
			    &deflim);

	stanza_set_attr(hdr, "to", "example.org");
	stanza_set_attr(hdr, "version", "1.0");
	codec_bin.write_header(c, b, hdr);
	codec_bin.destroy(c);
	stanza_unref(hdr);
	return b;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct tern_limits *lim;
	struct evbuffer		*in;
	const uint8_t		*sizes;
	size_t			 nsizes, len;
	uint8_t			 flags;
	char			*whole, *chunked, *buf;
	static int		 inited;

	if (!inited) {
		inited = 1;
		log_init(LOG_LVL_ERROR, NULL, "fuzz_codec_bin");
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
	if (flags & F_XML) {
		run_xml((const char *)data, size);
		return 0;
	}
	lim = (flags & F_SMALL) ? &smallim : &deflim;
	in = (flags & F_HEADER) ? header_frame() : evbuffer_new();
	evbuffer_add(in, data, size);
	len = evbuffer_get_length(in);
	buf = (char *)evbuffer_pullup(in, -1);
	chunked = run(buf, len, sizes, nsizes, flags, lim);
	if (!(flags & F_PAUSE)) {
		whole = run(buf, len, NULL, 0, flags, lim);
		if (strcmp(whole, chunked) != 0) {
			fprintf(stderr, "whole:\n%s\nchunked:\n%s\n", whole,
			    chunked);
			die("chunked run differs from the whole run", NULL);
		}
		free(whole);
	}
	free(chunked);
	evbuffer_free(in);
	return 0;
}
