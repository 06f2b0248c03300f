/*
 * Unit tests for codec_bin.c.  A corpus of XML stanzas goes XML ->
 * binary -> XML and must give the same tree; a whole client stream
 * converted to binary frames must give the same events as the XML one,
 * fed in one piece, split at every byte or byte by byte; every limit
 * and every kind of malformed frame ends in one stream error.  The
 * dictionary in doc/binary.md must be the one in codec_bin_dict.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <event2/buffer.h>

#include "codec.h"
#include "codec_bin.h"
#include "conf.h"
#include "stanza.h"

static const struct tern_limits deflim = {
	.stanza_size = 256 * 1024,
	.depth = 64,
	.attrs = 64,
};

struct rec {
	const struct codec_ops	*ops;
	void			*codec;
	struct evbuffer		*log;
	int			 nerr;
	char			 cond[64];
	char			 text[256];
	const char		*restart_on;
	const char		*pause_on;
};

static void
rec_open(void *arg, const struct stanza *hdr)
{
	struct rec	*r = arg;

	evbuffer_add_printf(r->log, "open ");
	codec_xml_serialize(hdr, r->log, NULL);
	evbuffer_add_printf(r->log, "\n");
}

static void
rec_stanza(void *arg, struct stanza *st)
{
	struct rec	*r = arg;

	evbuffer_add_printf(r->log, "stanza ");
	codec_xml_serialize(st, r->log, STANZA_NS_CLIENT);
	evbuffer_add_printf(r->log, "\n");
	if (r->restart_on != NULL && strcmp(st->name, r->restart_on) == 0)
		r->ops->restart(r->codec);
	if (r->pause_on != NULL && strcmp(st->name, r->pause_on) == 0)
		r->ops->pause(r->codec);
}

static void
rec_close(void *arg)
{
	evbuffer_add_printf(((struct rec *)arg)->log, "close\n");
}

static void
rec_error(void *arg, const char *cond, const char *text)
{
	struct rec	*r = arg;

	r->nerr++;
	snprintf(r->cond, sizeof(r->cond), "%s", cond);
	snprintf(r->text, sizeof(r->text), "%s", text);
	evbuffer_add_printf(r->log, "error %s\n", cond);
}

static const struct codec_cb rec_cb = {
	.stream_open = rec_open,
	.stanza = rec_stanza,
	.stream_close = rec_close,
	.error = rec_error,
};

static struct rec *
rec_new(const struct codec_ops *ops, const struct tern_limits *lim)
{
	struct rec	*r = calloc(1, sizeof(*r));

	cr_assert_not_null(r);
	r->ops = ops;
	r->log = evbuffer_new();
	r->codec = ops->create(&rec_cb, r, STANZA_NS_CLIENT,
	    lim != NULL ? lim : &deflim);
	return r;
}

static void
rec_free(struct rec *r)
{
	r->ops->destroy(r->codec);
	evbuffer_free(r->log);
	free(r);
}

static char *
buf_str(struct evbuffer *b)
{
	size_t	 len = evbuffer_get_length(b);
	char	*s = malloc(len + 1);

	cr_assert_not_null(s);
	evbuffer_copyout(b, s, len);
	s[len] = '\0';
	return s;
}

static unsigned char *
buf_bytes(struct evbuffer *b, size_t *len)
{
	unsigned char	*s;

	*len = evbuffer_get_length(b);
	s = malloc(*len + 1);
	cr_assert_not_null(s);
	evbuffer_copyout(b, s, *len);
	return s;
}

static int
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static int
tree_equal(const struct stanza *a, const struct stanza *b)
{
	size_t	i;

	if (!str_eq(a->ns, b->ns) || strcmp(a->name, b->name) != 0 ||
	    a->nattrs != b->nattrs || a->nkids != b->nkids)
		return 0;
	for (i = 0; i < a->nattrs; i++)
		if (!str_eq(a->attrs[i].ns, b->attrs[i].ns) ||
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

/* Stanzas tern accepts as XML; each must survive XML -> binary -> XML. */
static const char *const corpus[] = {
	"<message/>",
	"<message to='juliet@example.com/balcony' from='romeo@example.net/"
	"orchard' type='chat' id='ktx72v49' xml:lang='en'><body>Art thou "
	"not Romeo, and a Montague? &lt;3 \xe2\x98\xba</body><thread>e0ffe4"
	"2b28561960c6b12b944a092794b9683a38</thread><active xmlns='http://"
	"jabber.org/protocol/chatstates'/><request xmlns='urn:xmpp:receipts'"
	"/><origin-id xmlns='urn:xmpp:sid:0' id='5b7a23e0-7c4f-4c5e-9c9a-"
	"3f1e2d0b8a11'/></message>",
	"<iq type='result' id='1234567890' to='example.org'><query xmlns="
	"'jabber:iq:roster' ver='ver14'><item jid='nurse@example.com' "
	"name='Nurse' subscription='both'><group>Servants</group></item>"
	"<item jid='a@b' subscription='none' ask='subscribe'/></query></iq>",
	"<presence from='x@example.org/r'><show>away</show><status xml:lang="
	"'fr'>Parti\r\nmanger</status><priority>-1</priority><c xmlns='http"
	"://jabber.org/protocol/caps' hash='sha-1' node='http://gajim.org' "
	"ver='q07IKJEyjvHSyhy//CH0CxmKi8w='/><x xmlns='vcard-temp:x:update'"
	"><photo>01b87fcd030b72895ff8e88db57ec525450f000d</photo></x>"
	"</presence>",
	"<message><unknown xmlns='urn:example:private' a='1' b=''><deep "
	"xmlns='' plain='&apos;&quot;&amp;\t\n'><x:y xmlns:x='urn:x' "
	"x:attr='v' xmlns:z='urn:z' z:attr='w'/>text<more/>tail</deep>"
	"</unknown><body xml:lang='de'>Gr\xc3\xbc\xc3\x9f" "e</body></message>",
	"<iq type='get' id='d1'><query xmlns='http://jabber.org/protocol/"
	"disco#info'/></iq>",
	"<iq type='result' id='d1'><query xmlns='http://jabber.org/protocol/"
	"disco#info'><identity category='server' type='im' name='tern'/>"
	"<feature var='urn:xmpp:ping'/><feature var='jabber:iq:version'/>"
	"<feature var='urn:example:not-in-dictionary'/></query></iq>",
	"<message><\xc3\xa9l\xc3\xa9ment xmlns='urn:\xc3\xa9' "
	"\xc3\xa9t\xc3\xa9='\xf0\x9f\x98\x80'/></message>",
	"<stream:features xmlns:stream='http://etherx.jabber.org/streams'>"
	"<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>",
	"<iq id='0' type='set'><x xmlns='urn:x' n='00' d='18446744073709551615'"
	" e='18446744073709551616' h='ABCDEF0123456789' u='5B7A23E0-7C4F-4C5E"
	"-9C9A-3F1E2D0B8A11'/></iq>",
	"<message to='@/' from='a@@b//c' id='x@y'><body>a</body></message>",
	"<message xmlns:xml='http://www.w3.org/XML/1998/namespace'><xml:x/>"
	"</message>",
};

static struct stanza *
roundtrip(const struct stanza *st, const char *domain)
{
	struct evbuffer	*b = evbuffer_new();
	unsigned char	*p;
	struct stanza	*out;
	const char	*cond = NULL;
	char		 text[200];
	size_t		 len, off;

	codec_bin_write_frame(b, BIN_STANZA, st, STANZA_NS_CLIENT, domain);
	p = buf_bytes(b, &len);
	cr_assert_eq(p[0], BIN_STANZA);
	for (off = 1; p[off] & 0x80; off++)
		;
	off++;
	out = codec_bin_read_body(p + off, len - off, STANZA_NS_CLIENT,
	    domain, &deflim, &cond, text, sizeof(text));
	cr_assert_not_null(out, "%s: %s", cond, text);
	free(p);
	evbuffer_free(b);
	return out;
}

Test(codec_bin, corpus_round_trips)
{
	struct stanza	*st, *back;
	size_t		 i;

	for (i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
		st = codec_xml_parse_one(corpus[i], strlen(corpus[i]));
		cr_assert_not_null(st, "corpus %zu does not parse", i);
		back = roundtrip(st, NULL);
		cr_assert(tree_equal(st, back), "corpus %zu differs", i);
		stanza_unref(back);
		back = roundtrip(st, "example.org");
		cr_assert(tree_equal(st, back), "corpus %zu differs (domain)",
		    i);
		stanza_unref(back);
		stanza_unref(st);
	}
}

Test(codec_bin, chat_message_is_small)
{
	static const char	 xml[] = "<message to='juliet@example.org' "
	    "from='romeo@example.org/orchard' type='chat' id='5b7a23e0-7c4f-"
	    "4c5e-9c9a-3f1e2d0b8a11'><body>hi</body><active xmlns='http://"
	    "jabber.org/protocol/chatstates'/><request xmlns='urn:xmpp:"
	    "receipts'/></message>";
	struct stanza	*st = codec_xml_parse_one(xml, sizeof(xml) - 1);
	struct evbuffer	*b = evbuffer_new();

	codec_bin_write_frame(b, BIN_STANZA, st, STANZA_NS_CLIENT,
	    "example.org");
	/* Tokens, typed JIDs and the UUID: well under a third. */
	cr_assert_lt(evbuffer_get_length(b), (sizeof(xml) - 1) / 3);
	evbuffer_free(b);
	stanza_unref(st);
}

/* ------------------------------------------------------------------ */
/* Streams */

#define CLIENT_HDR "<?xml version='1.0'?><stream:stream xmlns='jabber:client'" \
	" xmlns:stream='http://etherx.jabber.org/streams' to='example.org' " \
	"version='1.0' xml:lang='en'>"

/* Converts an XML stream to binary frames through both codecs. */
struct conv {
	void		*bin;
	struct evbuffer	*out;
};

static void
conv_open(void *arg, const struct stanza *hdr)
{
	struct conv	*c = arg;

	codec_bin.write_header(c->bin, c->out, hdr);
}

static void
conv_stanza(void *arg, struct stanza *st)
{
	struct conv	*c = arg;

	codec_bin.write_stanza(c->bin, c->out, st);
}

static void
conv_close(void *arg)
{
	struct conv	*c = arg;

	codec_bin.write_close(c->bin, c->out);
}

static void
conv_error(void *arg, const char *cond, const char *text)
{
	cr_assert_fail("XML stream does not parse: %s: %s", cond, text);
}

static const struct codec_cb conv_cb = {
	conv_open, conv_stanza, conv_close, conv_error
};

static unsigned char *
to_binary(const char *xml, size_t *len)
{
	struct conv	 c;
	struct rec	*dummy = rec_new(&codec_bin, NULL);
	void		*x;
	unsigned char	*p;

	c.out = evbuffer_new();
	c.bin = dummy->codec;
	x = codec_xml.create(&conv_cb, &c, STANZA_NS_CLIENT, &deflim);
	cr_assert_eq(codec_xml.feed(x, xml, strlen(xml)), 0);
	codec_xml.destroy(x);
	p = buf_bytes(c.out, len);
	evbuffer_free(c.out);
	rec_free(dummy);
	return p;
}

static char *
xml_log(const char *xml)
{
	struct rec	*r = rec_new(&codec_xml, NULL);
	char		*log;

	cr_assert_eq(codec_xml.feed(r->codec, xml, strlen(xml)), 0);
	log = buf_str(r->log);
	rec_free(r);
	return log;
}

static char *
client_stream(void)
{
	struct evbuffer	*b = evbuffer_new();
	char		*s;
	size_t		 i;

	evbuffer_add_printf(b, "%s", CLIENT_HDR);
	for (i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++)
		if (strncmp(corpus[i], "<stream:", 8) != 0)
			evbuffer_add_printf(b, "%s", corpus[i]);
	evbuffer_add_printf(b, "</stream:stream>");
	s = buf_str(b);
	evbuffer_free(b);
	return s;
}

static char *
bin_run(const unsigned char *in, size_t len, size_t step,
    const struct tern_limits *lim, int *rv)
{
	struct rec	*r = rec_new(&codec_bin, lim);
	size_t		 off, n;
	char		*log;

	*rv = 0;
	for (off = 0; off < len && *rv == 0; off += n) {
		n = step == 0 || len - off < step ? len - off : step;
		*rv = codec_bin.feed(r->codec, (const char *)in + off, n);
	}
	log = buf_str(r->log);
	rec_free(r);
	return log;
}

Test(codec_bin, stream_same_events_as_xml)
{
	char		*xml = client_stream(), *want, *got;
	unsigned char	*bin;
	size_t		 len;
	int		 rv;

	want = xml_log(xml);
	bin = to_binary(xml, &len);
	cr_assert_lt(len, strlen(xml));
	got = bin_run(bin, len, 0, NULL, &rv);
	cr_assert_eq(rv, 0);
	cr_assert_str_eq(got, want);
	free(got);
	got = bin_run(bin, len, 1, NULL, &rv);
	cr_assert_str_eq(got, want, "byte by byte");
	free(got);
	free(want);
	free(bin);
	free(xml);
}

Test(codec_bin, stream_every_split)
{
	char		*xml = client_stream(), *want, *got;
	unsigned char	*bin;
	size_t		 len, split;
	struct rec	*r;

	want = xml_log(xml);
	bin = to_binary(xml, &len);
	for (split = 0; split <= len; split++) {
		r = rec_new(&codec_bin, NULL);
		cr_assert_eq(codec_bin.feed(r->codec, (char *)bin, split), 0);
		cr_assert_eq(codec_bin.feed(r->codec, (char *)bin + split,
		    len - split), 0);
		got = buf_str(r->log);
		cr_assert_str_eq(got, want, "split at %zu", split);
		free(got);
		rec_free(r);
	}
	free(want);
	free(bin);
	free(xml);
}

Test(codec_bin, restart_and_pause)
{
#define SUCCESS_XML CLIENT_HDR "<success xmlns='urn:ietf:params:xml:ns:" \
	"xmpp-sasl'/>"
	unsigned char	*a, *both;
	size_t		 alen;
	struct rec	*r;
	char		*log;

	a = to_binary(SUCCESS_XML "</stream:stream>", &alen);
	alen -= 2;		/* without the CLOSE frame */
	both = malloc(2 * alen);
	memcpy(both, a, alen);
	memcpy(both + alen, a, alen);
	/* Restart inside the callback: the rest is a new stream. */
	r = rec_new(&codec_bin, NULL);
	r->restart_on = "success";
	cr_assert_eq(codec_bin.feed(r->codec, (char *)both, 2 * alen), 0);
	log = buf_str(r->log);
	cr_assert_eq(strlen(log) > 0 && strstr(strstr(log, "success") + 1,
	    "open") != NULL, 1, "%s", log);
	free(log);
	rec_free(r);
	/* Pause and restart: the rest of the call is dropped. */
	r = rec_new(&codec_bin, NULL);
	r->restart_on = r->pause_on = "success";
	cr_assert_eq(codec_bin.feed(r->codec, (char *)both, 2 * alen), 0);
	log = buf_str(r->log);
	cr_assert_null(strstr(strstr(log, "success"), "open"), "%s", log);
	free(log);
	cr_assert_eq(codec_bin.feed(r->codec, (char *)a, alen), 0);
	log = buf_str(r->log);
	cr_assert_not_null(strstr(strstr(log, "success"), "open"), "%s", log);
	free(log);
	rec_free(r);
	free(a);
	free(both);
}

/* ------------------------------------------------------------------ */
/* Limits and malformed frames */

/* A valid binary stream header, then raw bytes. */
static unsigned char *
with_header(const void *raw, size_t rawlen, size_t *len)
{
	unsigned char	*h, *p;
	size_t		 hlen;

	h = to_binary(CLIENT_HDR "</stream:stream>", &hlen);
	hlen -= 2;
	p = malloc(hlen + rawlen + 1);
	memcpy(p, h, hlen);
	memcpy(p + hlen, raw, rawlen);
	*len = hlen + rawlen;
	free(h);
	return p;
}

static void
expect_error_lim(const void *raw, size_t rawlen, const char *cond,
    const char *part, const struct tern_limits *lim)
{
	unsigned char	*in;
	size_t		 len, step;
	struct rec	*r;
	int		 rv;
	char		*log;

	in = with_header(raw, rawlen, &len);
	for (step = 0; step <= 1; step++) {
		r = rec_new(&codec_bin, lim);
		rv = 0;
		if (step == 0)
			rv = codec_bin.feed(r->codec, (char *)in, len);
		else {
			size_t i;

			for (i = 0; i < len && rv == 0; i++)
				rv = codec_bin.feed(r->codec, (char *)in + i,
				    1);
		}
		log = buf_str(r->log);
		cr_assert_eq(rv, -1, "no error (%s)", log);
		cr_assert_eq(r->nerr, 1);
		cr_assert_str_eq(r->cond, cond, "%s: %s", r->cond, r->text);
		if (part != NULL)
			cr_assert_not_null(strstr(r->text, part), "%s",
			    r->text);
		/* Nothing more after the error. */
		cr_assert_eq(codec_bin.feed(r->codec, (char *)in, len), -1);
		cr_assert_eq(r->nerr, 1);
		free(log);
		rec_free(r);
	}
	free(in);
}

#define EXPECT(raw, cond, part) \
	expect_error_lim((raw), sizeof(raw) - 1, (cond), (part), NULL)

Test(codec_bin, malformed_frames)
{
	EXPECT("\x09\x00", "bad-format", "unknown frame type");
	EXPECT("\x00\x01\x00", "bad-format", "with a body");
	EXPECT("\x04\x01\x00", "bad-format", "with a body");
	EXPECT("\x02\x00", "bad-format", "second HEADER");
	EXPECT("\x01\x80\x00", "bad-format", "overlong");
	EXPECT("\x01\x80\x80\x80\x80\x80\x01", "bad-format", "too long");
	/* Message with a name-ref literal whose length varint is cut. */
	EXPECT("\x01\x02\x08\x80", "bad-format", "");
	/* Element tag 0x00, literal name, length 5 but 1 byte left. */
	EXPECT("\x01\x03\x00\x00\x05", "bad-format", "");
	/* Leftover byte after <message/>. */
	EXPECT("\x01\x02\x10\x00", "bad-format", "left over");
	/* Text where the element was expected. */
	EXPECT("\x01\x01\x03", "bad-format", "text where");
	/* A name table entry that was never defined. */
	EXPECT("\x01\x03\x00\xff\x01", "bad-format", "not defined");
	/* A name with a colon, and one that is not UTF-8. */
	EXPECT("\x01\x06\x00\x00\x03\x61\x3a\x62", "bad-format", "NCName");
	EXPECT("\x01\x05\x00\x00\x02\xc3\x28", "bad-format", "NCName");
	/* <body> with text holding NUL, and with bad UTF-8. */
	EXPECT("\x01\x06\x48\x01\x07\x61\x00\x62", "bad-format", "XML text");
	EXPECT("\x01\x06\x48\x01\x07\xed\xa0\x80", "bad-format", "UTF-8");
	/* Two texts in a row; an empty text. */
	EXPECT("\x01\x06\x48\x02\x03\x61\x03\x62", "bad-format", "in a row");
	EXPECT("\x01\x03\x48\x01\x01", "bad-format", "empty text");
	/* <message xmlns=> attribute and a duplicate. */
	EXPECT("\x01\x0a\x14\x01\x00\x05xmlns\x06", "bad-format", "xmlns");
	EXPECT("\x01\x06\x14\x02\x05\x06\x05\x06", "bad-format",
	    "duplicate");
	/* Value token out of range; stream domain unknown here. */
	EXPECT("\x01\x05\x14\x01\x05\xfe\x7f", "bad-format", "out of range");
	/* FEATURES frame holding a message. */
	EXPECT("\x03\x01\x10", "bad-format", "another element");
	/* Hex value of 0 bytes; JID flags with unknown bits. */
	EXPECT("\x01\x05\x14\x01\x05\x07\x00", "bad-format", "hex");
	EXPECT("\x01\x05\x14\x01\x03\x03\x04", "bad-format", "JID flags");
}

Test(codec_bin, frame_before_header)
{
	static const unsigned char	 in[] = { BIN_STANZA, 1, 0x10 };
	struct rec			*r = rec_new(&codec_bin, NULL);

	cr_assert_eq(codec_bin.feed(r->codec, (const char *)in, sizeof(in)),
	    -1);
	cr_assert_str_eq(r->cond, "bad-format");
	rec_free(r);
}

Test(codec_bin, unknown_dictionary_and_namespace)
{
	unsigned char	*in;
	size_t		 len;
	struct rec	*r;

	in = to_binary(CLIENT_HDR "</stream:stream>", &len);
	/* type, length, format 0, version 1, hash: change the hash. */
	in[5] ^= 1;
	r = rec_new(&codec_bin, NULL);
	cr_assert_eq(codec_bin.feed(r->codec, (char *)in, len), -1);
	cr_assert_str_eq(r->cond, "unsupported-version");
	rec_free(r);
	in[5] ^= 1;
	in[3] = 2;	/* dictionary version 2 */
	r = rec_new(&codec_bin, NULL);
	cr_assert_eq(codec_bin.feed(r->codec, (char *)in, len), -1);
	cr_assert_str_eq(r->cond, "unsupported-version");
	rec_free(r);
	in[3] = 1;
	in[12] = 3;	/* content ns jabber:server (token 2) */
	r = rec_new(&codec_bin, NULL);
	cr_assert_eq(codec_bin.feed(r->codec, (char *)in, len), -1);
	cr_assert_str_eq(r->cond, "invalid-namespace");
	rec_free(r);
	free(in);
}

Test(codec_bin, huge_lengths_refused_early)
{
	static const unsigned char	huge[] = { BIN_STANZA, 0xff, 0xff,
					    0xff, 0xff, 0x0f };
	static const unsigned char	big[] = { BIN_STANZA, 0x81, 0x80,
					    0x10 };		/* 256k + 1 */

	/* Refused from the length alone: no body is ever sent. */
	expect_error_lim(huge, sizeof(huge), "policy-violation",
	    "max_stanza_size", NULL);
	expect_error_lim(big, sizeof(big), "policy-violation",
	    "max_stanza_size", NULL);
}

static unsigned char *
frame_of(const char *xml, size_t *len)
{
	struct stanza	*st = codec_xml_parse_one(xml, strlen(xml));
	struct evbuffer	*b = evbuffer_new();
	unsigned char	*p;

	cr_assert_not_null(st);
	codec_bin_write_frame(b, BIN_STANZA, st, STANZA_NS_CLIENT, NULL);
	p = buf_bytes(b, len);
	evbuffer_free(b);
	stanza_unref(st);
	return p;
}

static void
expect_ok_lim(const unsigned char *raw, size_t rawlen,
    const struct tern_limits *lim)
{
	unsigned char	*in;
	size_t		 len;
	struct rec	*r;

	in = with_header(raw, rawlen, &len);
	r = rec_new(&codec_bin, lim);
	cr_assert_eq(codec_bin.feed(r->codec, (char *)in, len), 0, "%s",
	    r->text);
	rec_free(r);
	free(in);
}

static char *
nested(unsigned n)
{
	struct evbuffer	*b = evbuffer_new();
	char		*s;
	unsigned	 i;

	for (i = 0; i < n; i++)
		evbuffer_add_printf(b, "<a>");
	for (i = 0; i < n; i++)
		evbuffer_add_printf(b, "</a>");
	s = buf_str(b);
	evbuffer_free(b);
	return s;
}

Test(codec_bin, limits)
{
	struct tern_limits	 small = { .stanza_size = 1024, .depth = 4,
				    .attrs = 4 };
	unsigned char		*f;
	size_t			 len;
	char			*xml, big[1200];

	/* Depth: 4 levels pass, 5 do not. */
	xml = nested(4);
	f = frame_of(xml, &len);
	expect_ok_lim(f, len, &small);
	free(f);
	free(xml);
	xml = nested(5);
	f = frame_of(xml, &len);
	expect_error_lim(f, len, "policy-violation", "max_depth", &small);
	free(f);
	free(xml);
	/* Attributes. */
	f = frame_of("<a b='1' c='2' d='3' e='4'/>", &len);
	expect_ok_lim(f, len, &small);
	free(f);
	f = frame_of("<a b='1' c='2' d='3' e='4' f='5'/>", &len);
	expect_error_lim(f, len, "policy-violation", "max_attrs", &small);
	free(f);
	/* Bytes: a frame of exactly the limit passes, one more does not. */
	memset(big, 'x', sizeof(big));
	memcpy(big, "<a>", 3);
	memcpy(big + 1200 - 10, "</a>", 5);
	f = frame_of(big, &len);
	cr_assert(f[1] & 0x80 && !(f[2] & 0x80));
	small.stanza_size = (size_t)(f[1] & 0x7f) | (size_t)f[2] << 7;
	cr_assert_eq(small.stanza_size, len - 3);
	expect_ok_lim(f, len, &small);
	small.stanza_size--;
	expect_error_lim(f, len, "policy-violation", "max_stanza_size",
	    &small);
	free(f);
}

/* ------------------------------------------------------------------ */
/* The dictionary */

Test(codec_bin, dictionary_matches_the_spec)
{
	static const char *const heads[BIN_NLISTS] = {
		"NS:\n```\n", "ELEMENT:\n```\n", "ATTR:\n```\n",
		"VALUE:\n```\n",
	};
	const struct codec_bin_dict	*d = codec_bin_dict_current();
	FILE				*f;
	char				*doc, *p, *end, *line;
	size_t				 i, l, n;

	f = fopen(TERN_SRCDIR "/doc/binary.md", "r");
	cr_assert_not_null(f);
	doc = calloc(1, 1 << 20);
	n = fread(doc, 1, (1 << 20) - 1, f);
	fclose(f);
	cr_assert_gt(n, 0);
	for (l = 0; l < BIN_NLISTS; l++) {
		p = strstr(doc, heads[l]);
		cr_assert_not_null(p, "no list %s", heads[l]);
		p += strlen(heads[l]);
		end = strstr(p, "```");
		for (i = 0; p < end; i++) {
			line = p;
			p = strchr(p, '\n') + 1;
			cr_assert_lt(i, d->lists[l].n, "doc list %zu longer",
			    l);
			if (l == BIN_NS && i == 0)
				continue;	/* "(empty ...)" */
			cr_assert(strlen(d->lists[l].s[i]) ==
			    (size_t)(p - 1 - line) && strncmp(line,
			    d->lists[l].s[i], p - 1 - line) == 0,
			    "list %zu entry %zu: %s", l, i, d->lists[l].s[i]);
		}
		cr_assert_eq(i, d->lists[l].n, "doc list %zu shorter", l);
	}
	free(doc);
}

Test(codec_bin, dictionary_sane)
{
	const struct codec_bin_dict	*d = codec_bin_dict_current();
	size_t				 l, i, j;
	const char			*hex;

	for (l = 0; l < BIN_NLISTS; l++)
		for (i = 0; i < d->lists[l].n; i++)
			for (j = 0; j < i; j++)
				cr_assert_str_neq(d->lists[l].s[i],
				    d->lists[l].s[j], "duplicate in list %zu",
				    l);
	cr_assert_geq(d->lists[BIN_ELEMENT].n, 15);
	hex = codec_bin_dict_hex(d);
	cr_assert_eq(strlen(hex), 64);
	cr_assert_eq(codec_bin_dict_find(d->version, hex), d);
	cr_assert_null(codec_bin_dict_find(d->version, "00"));
	cr_assert_null(codec_bin_dict_find(d->version + 1, NULL));
}

/* ------------------------------------------------------------------ */
/* The measurement corpus (bench/corpus) round-trips too. */

struct collect {
	struct stanza	*st[64];
	size_t		 n;
};

static void
col_open(void *arg, const struct stanza *hdr)
{
}

static void
col_stanza(void *arg, struct stanza *st)
{
	struct collect	*c = arg;

	cr_assert_lt(c->n, sizeof(c->st) / sizeof(c->st[0]));
	c->st[c->n++] = stanza_ref(st);
}

static void
col_close(void *arg)
{
}

static void
col_error(void *arg, const char *cond, const char *text)
{
	cr_assert_fail("corpus does not parse: %s: %s", cond, text);
}

Test(codec_bin, bench_corpus_round_trips)
{
	static const char *const files[] = {
		"login", "roster-50", "chat", "carbons", "mam-page",
		"muc-presence", "pep-avatar",
	};
	static const struct codec_cb cb = {
		col_open, col_stanza, col_close, col_error
	};
	struct collect	 c;
	struct stanza	*back;
	char		 path[512], *text;
	size_t		 i, j, n;
	FILE		*f;
	void		*x;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/bench/corpus/%s.xml",
		    TERN_SRCDIR, files[i]);
		cr_assert_not_null(f = fopen(path, "r"), "%s", path);
		text = calloc(1, 1 << 20);
		n = fread(text, 1, (1 << 20) - 1, f);
		fclose(f);
		memset(&c, 0, sizeof(c));
		x = codec_xml.create(&cb, &c, STANZA_NS_CLIENT, &deflim);
		codec_xml.feed(x, CLIENT_HDR, strlen(CLIENT_HDR));
		codec_xml.feed(x, text, n);
		codec_xml.destroy(x);
		cr_assert_gt(c.n, 0, "%s: no stanzas", path);
		for (j = 0; j < c.n; j++) {
			back = roundtrip(c.st[j], "example.org");
			cr_assert(tree_equal(c.st[j], back), "%s stanza %zu",
			    path, j);
			stanza_unref(back);
			stanza_unref(c.st[j]);
		}
		free(text);
	}
}
