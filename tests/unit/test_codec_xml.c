/*
 * Unit tests for codec_xml.c.  A recorder turns the codec's callbacks
 * into a text log (each tree serialized back), so that feeding a stream
 * in one piece, split at every byte offset or byte by byte can be
 * compared exactly.  Hostile input must end in one stream error with the
 * RFC 6120 condition; the serializer must escape and round-trip.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <event2/buffer.h>

#include "codec.h"
#include "conf.h"
#include "stanza.h"

#define NS_STREAMS_ATTR	"xmlns:stream='http://etherx.jabber.org/streams'"
#define HDR	"<?xml version='1.0'?><stream:stream xmlns='jabber:client' " \
		NS_STREAMS_ATTR " to='example.org' version='1.0' " \
		"xml:lang='en'>"
#define HDR2	"<?xml version='1.0'?><stream:stream xmlns='jabber:client' " \
		NS_STREAMS_ATTR " to='example.org' version='1.0' id='two'>"

/* The defaults of max_stanza_size, max_depth and max_attrs (conf.c). */
static const struct tern_limits deflim = {
	.stanza_size = 256 * 1024,
	.depth = 64,
	.attrs = 64,
};

struct rec {
	void			*codec;
	struct evbuffer		*log;
	int			 nopen;
	int			 nstanza;
	int			 nclose;
	int			 nerr;
	char			 cond[64];
	char			 text[256];
	const char		*restart_on;	/* stanza name */
	const char		*pause_on;	/* stanza name */
	int			 keep;		/* keep stanzas in kept[] */
	struct stanza		*kept[32];
	size_t			 nkept;
};

static void
rec_open(void *arg, const struct stanza *hdr)
{
	struct rec	*r = arg;

	cr_assert_str_eq(hdr->ns, STANZA_NS_STREAMS);
	cr_assert_str_eq(hdr->name, "stream");
	cr_assert_eq(hdr->nkids, 0);
	r->nopen++;
	evbuffer_add_printf(r->log, "open ");
	codec_xml_serialize(hdr, r->log, NULL);
	evbuffer_add_printf(r->log, "\n");
}

static void
rec_stanza(void *arg, struct stanza *st)
{
	struct rec	*r = arg;

	r->nstanza++;
	evbuffer_add_printf(r->log, "stanza ");
	codec_xml_serialize(st, r->log, STANZA_NS_CLIENT);
	evbuffer_add_printf(r->log, "\n");
	if (r->keep && r->nkept < sizeof(r->kept) / sizeof(r->kept[0]))
		r->kept[r->nkept++] = stanza_ref(st);
	if (r->restart_on != NULL && strcmp(st->name, r->restart_on) == 0)
		codec_xml.restart(r->codec);
	if (r->pause_on != NULL && strcmp(st->name, r->pause_on) == 0)
		codec_xml.pause(r->codec);
}

static void
rec_close(void *arg)
{
	struct rec	*r = arg;

	r->nclose++;
	evbuffer_add_printf(r->log, "close\n");
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
rec_new(const struct tern_limits *lim)
{
	struct rec	*r;

	r = calloc(1, sizeof(*r));
	cr_assert_not_null(r);
	r->log = evbuffer_new();
	r->codec = codec_xml.create(&rec_cb, r, STANZA_NS_CLIENT,
	    lim != NULL ? lim : &deflim);
	cr_assert_not_null(r->codec);
	return r;
}

static void
rec_free(struct rec *r)
{
	size_t	i;

	codec_xml.destroy(r->codec);
	for (i = 0; i < r->nkept; i++)
		stanza_unref(r->kept[i]);
	evbuffer_free(r->log);
	free(r);
}

static int
rec_events(const struct rec *r)
{
	return r->nopen + r->nstanza + r->nclose + r->nerr;
}

/* The buffer's contents as a string; caller frees. */
static char *
buf_str(struct evbuffer *b)
{
	size_t	 len = evbuffer_get_length(b);
	char	*s;

	s = malloc(len + 1);
	cr_assert_not_null(s);
	evbuffer_copyout(b, s, len);
	s[len] = '\0';
	return s;
}

static int
feed(struct rec *r, const char *s, size_t len)
{
	return codec_xml.feed(r->codec, s, len);
}

static int
feed_str(struct rec *r, const char *s)
{
	return feed(r, s, strlen(s));
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

/*
 * A realistic client stream, in pieces; 'event' marks the pieces whose
 * last byte completes a callback.
 */
static const struct {
	const char	*s;
	int		 event;
} client_pieces[] = {
	{ HDR, 1 },
	{ "<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>", 1 },
	{ " \n", 0 },
	{ "<presence><show>chat</show>"
	  "<status xml:lang='fr'>En ligne &amp; pr&#xEA;t</status>"
	  "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' "
	  "node='http://gajim.org' ver='q07IKJEyjvHSyhy//CH0CxmKi8w='/>"
	  "</presence>", 1 },
	{ "\t", 0 },
	{ "<message to='juliet@example.com/balcony' type='chat' id='m1' "
	  "xml:lang='en'><body>Wherefore art thou? &lt;3 &#x263a; "
	  "&quot;R&apos;</body>"
	  "<active xmlns='http://jabber.org/protocol/chatstates'/>"
	  "<x xmlns='jabber:x:data' type='form'><field var='a'>"
	  "<value>1</value></field></x>"
	  "<p:thread xmlns:p='jabber:client'>t1</p:thread>"
	  "<data xmlns='urn:x' xmlns:q='urn:q' q:attr='v&amp;w'/>"
	  "</message>", 1 },
	{ "\r\n", 0 },
	{ "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:"
	  "xmpp-bind'><resource>balcony \xe2\x98\xba</resource></bind></iq>",
	  1 },
	{ "<message><body>two\nlines <![CDATA[<not a tag> & ]]></body>"
	  "</message>", 1 },
	{ " ", 0 },
	{ "</stream:stream>", 1 },
};

static const char client_log[] =
    "open <stream:stream to='example.org' version='1.0' xml:lang='en'/>\n"
    "stanza <iq type='get' id='r1'><query xmlns='jabber:iq:roster'/>"
    "</iq>\n"
    "stanza <presence><show>chat</show><status xml:lang='fr'>En ligne "
    "&amp; pr\xc3\xaat</status><c xmlns='http://jabber.org/protocol/caps' "
    "hash='sha-1' node='http://gajim.org' "
    "ver='q07IKJEyjvHSyhy//CH0CxmKi8w='/></presence>\n"
    "stanza <message to='juliet@example.com/balcony' type='chat' id='m1' "
    "xml:lang='en'><body>Wherefore art thou? &lt;3 \xe2\x98\xba \"R'"
    "</body><active xmlns='http://jabber.org/protocol/chatstates'/>"
    "<x xmlns='jabber:x:data' type='form'><field var='a'><value>1</value>"
    "</field></x><thread>t1</thread><data xmlns='urn:x' "
    "xmlns:ns1='urn:q' ns1:attr='v&amp;w'/></message>\n"
    "stanza <iq type='set' id='b'><bind "
    "xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>balcony "
    "\xe2\x98\xba</resource></bind></iq>\n"
    "stanza <message><body>two\nlines &lt;not a tag&gt; &amp; </body>"
    "</message>\n"
    "close\n";

/* The client stream in one string; ends[] gets each event's end offset. */
static char *
client_stream(size_t *lenp, size_t *ends, size_t *nends)
{
	size_t	 i, len = 0, n = 0;
	char	*s;

	for (i = 0; i < sizeof(client_pieces) / sizeof(client_pieces[0]); i++)
		len += strlen(client_pieces[i].s);
	s = malloc(len + 1);
	cr_assert_not_null(s);
	len = 0;
	for (i = 0; i < sizeof(client_pieces) / sizeof(client_pieces[0]);
	    i++) {
		memcpy(s + len, client_pieces[i].s,
		    strlen(client_pieces[i].s));
		len += strlen(client_pieces[i].s);
		if (client_pieces[i].event && ends != NULL)
			ends[n++] = len;
	}
	s[len] = '\0';
	*lenp = len;
	if (nends != NULL)
		*nends = n;
	return s;
}

/* Feeds in[0..split) and in[split..len), returns the log. */
static char *
run_split(const char *in, size_t len, size_t split, struct rec *r)
{
	int	rv;

	rv = feed(r, in, split);
	if (rv == 0)
		rv = feed(r, in + split, len - split);
	return buf_str(r->log);
}

Test(codec_xml, client_stream_whole)
{
	struct rec	*r;
	char		*in, *log;
	size_t		 len;

	in = client_stream(&len, NULL, NULL);
	r = rec_new(NULL);
	r->keep = 1;
	cr_assert_eq(feed(r, in, len), 0);
	log = buf_str(r->log);
	cr_assert_str_eq(log, client_log);
	cr_assert_eq(r->nerr, 0);

	/* Namespaces and xml:lang as the tree carries them. */
	cr_assert_eq(r->nkept, 5);
	cr_assert_str_eq(r->kept[0]->ns, STANZA_NS_CLIENT);
	cr_assert_eq(stanza_kind(r->kept[0]), STANZA_IQ);
	cr_assert_str_eq(stanza_child(r->kept[0], NULL, "query")->ns,
	    "jabber:iq:roster");
	cr_assert_str_eq(stanza_attr_ns(stanza_child(r->kept[1], NULL,
	    "status"), STANZA_NS_XML, "lang"), "fr");
	/* Text split by entities and references is one node. */
	cr_assert_eq(stanza_child(r->kept[1], NULL, "status")->nkids, 1);
	cr_assert_eq(stanza_child(r->kept[2], NULL, "body")->nkids, 1);
	cr_assert_str_eq(stanza_attr_ns(r->kept[2], STANZA_NS_XML, "lang"),
	    "en");
	cr_assert_null(stanza_attr(r->kept[2], "lang"));
	cr_assert_not_null(stanza_child(r->kept[2], STANZA_NS_CLIENT,
	    "thread"));
	cr_assert_not_null(stanza_child(stanza_child(r->kept[2],
	    "jabber:x:data", "x"), "jabber:x:data", "field"));
	cr_assert_str_eq(stanza_attr_ns(stanza_child(r->kept[2], "urn:x",
	    "data"), "urn:q", "attr"), "v&w");
	free(log);
	free(in);
	rec_free(r);
}

Test(codec_xml, client_stream_every_split)
{
	struct rec	*r;
	char		*in, *log;
	size_t		 len, i;

	in = client_stream(&len, NULL, NULL);
	for (i = 0; i <= len; i++) {
		r = rec_new(NULL);
		log = run_split(in, len, i, r);
		cr_assert_str_eq(log, client_log, "split at %zu", i);
		free(log);
		rec_free(r);
	}
	free(in);
}

/* Every callback comes as soon as its last byte is fed, not later. */
Test(codec_xml, client_stream_byte_by_byte)
{
	struct rec	*r;
	char		*in, *log;
	size_t		 len, i, ends[16], nends, due;

	in = client_stream(&len, ends, &nends);
	r = rec_new(NULL);
	for (i = 0, due = 0; i < len; i++) {
		cr_assert_eq(feed(r, in + i, 1), 0);
		while (due < nends && ends[due] <= i + 1)
			due++;
		cr_assert_eq(rec_events(r), (int)due, "after byte %zu", i);
	}
	log = buf_str(r->log);
	cr_assert_str_eq(log, client_log);
	free(log);
	free(in);
	rec_free(r);
}

Test(codec_xml, keepalives_ignored)
{
	struct rec	*r;
	int		 i;

	r = rec_new(NULL);
	cr_assert_eq(feed_str(r, HDR), 0);
	/* More whitespace than max_stanza_size, over time. */
	for (i = 0; i < 3000; i++)
		cr_assert_eq(feed_str(r, " \n\t\r                         "
		    "                                                    "
		    "                       "), 0);
	cr_assert_eq(feed_str(r, "<presence/>  \n  <presence/>"), 0);
	cr_assert_eq(r->nstanza, 2);
	cr_assert_eq(r->nerr, 0);
	rec_free(r);
}

Test(codec_xml, many_stanzas_under_limit)
{
	static const char	 st[] = "<message to='a@example.org'><body>"
	    "0123456789012345678901234567890123456789</body></message>";
	struct rec		*r;
	struct evbuffer		*b;
	char			*in;
	int			 i;

	/* Far more than max_stanza_size in one feed, each stanza small. */
	b = evbuffer_new();
	evbuffer_add_printf(b, "%s", HDR);
	for (i = 0; i < 5000; i++)
		evbuffer_add_printf(b, "%s", st);
	in = buf_str(b);
	r = rec_new(NULL);
	cr_assert_eq(feed_str(r, in), 0);
	cr_assert_eq(r->nstanza, 5000);
	cr_assert_eq(r->nerr, 0);
	rec_free(r);
	free(in);
	evbuffer_free(b);
}

static const char restart_in[] = HDR
    "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"
    "AGp1bGlldAByMG0zMG15cjBtMzA=</auth>"
    HDR2
    "<iq type='set' id='b1'><bind "
    "xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>";

static const char restart_log[] =
    "open <stream:stream to='example.org' version='1.0' xml:lang='en'/>\n"
    "stanza <auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
    "mechanism='PLAIN'>AGp1bGlldAByMG0zMG15cjBtMzA=</auth>\n"
    "open <stream:stream to='example.org' version='1.0' id='two'/>\n"
    "stanza <iq type='set' id='b1'><bind "
    "xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>\n";

Test(codec_xml, restart_in_callback_same_chunk)
{
	struct rec	*r;
	char		*log;
	size_t		 len = strlen(restart_in), i;

	for (i = 0; i <= len; i++) {
		r = rec_new(NULL);
		r->restart_on = "auth";
		log = run_split(restart_in, len, i, r);
		cr_assert_str_eq(log, restart_log, "split at %zu", i);
		free(log);
		rec_free(r);
	}

	/* Byte by byte. */
	r = rec_new(NULL);
	r->restart_on = "auth";
	for (i = 0; i < len; i++)
		cr_assert_eq(feed(r, restart_in + i, 1), 0);
	log = buf_str(r->log);
	cr_assert_str_eq(log, restart_log);
	free(log);
	rec_free(r);
}

Test(codec_xml, restart_empty_element)
{
	struct rec	*r;

	/* restart() after an empty top-level element, then more streams. */
	r = rec_new(NULL);
	r->restart_on = "success";
	cr_assert_eq(feed_str(r, HDR "<success xmlns='urn:ietf:params:xml:"
	    "ns:xmpp-sasl'/>" HDR2 "<success xmlns='urn:ietf:params:xml:ns:"
	    "xmpp-sasl'/>" HDR "<iq id='x'/>"), 0);
	cr_assert_eq(r->nopen, 3);
	cr_assert_eq(r->nstanza, 3);
	cr_assert_eq(r->nerr, 0);
	rec_free(r);
}

Test(codec_xml, restart_outside_feed)
{
	struct rec	*r;

	r = rec_new(NULL);
	cr_assert_eq(feed_str(r, HDR "<iq id='1'/><message><body>half"), 0);
	codec_xml.restart(r->codec);
	cr_assert_eq(feed_str(r, HDR2 "<iq id='2'/>"), 0);
	cr_assert_eq(r->nopen, 2);
	cr_assert_eq(r->nstanza, 2);
	cr_assert_eq(r->nerr, 0);
	rec_free(r);
}

/* STARTTLS: what follows <starttls/> in plaintext is dropped. */
Test(codec_xml, pause_and_restart)
{
	static const char	 in[] = HDR "<starttls xmlns='urn:ietf:"
	    "params:xml:ns:xmpp-tls'/><iq type='set' id='injected'/>";
	struct rec		*r;
	char			*log;
	size_t			 len = strlen(in), i, end;

	end = strstr(in, "<iq") - in;
	for (i = 0; i < end; i++) {
		r = rec_new(NULL);
		r->restart_on = "starttls";
		r->pause_on = "starttls";
		cr_assert_eq(feed(r, in, i), 0);
		cr_assert_eq(feed(r, in + i, len - i), 0);
		cr_assert_eq(r->nstanza, 1, "split at %zu", i);
		/* The new stream after TLS. */
		cr_assert_eq(feed_str(r, HDR2 "<iq id='after'/>"), 0);
		log = buf_str(r->log);
		cr_assert_null(strstr(log, "injected"));
		cr_assert_not_null(strstr(log, "id='after'"));
		cr_assert_eq(r->nopen, 2);
		cr_assert_eq(r->nerr, 0);
		free(log);
		rec_free(r);
	}
}

Test(codec_xml, pause_drops_until_restart)
{
	struct rec	*r;

	r = rec_new(NULL);
	r->pause_on = "stop";
	cr_assert_eq(feed_str(r, HDR "<stop/><iq id='dropped'/>"), 0);
	cr_assert_eq(r->nstanza, 1);
	cr_assert_eq(feed_str(r, "<iq id='dropped too'/>garbage<<<"), 0);
	cr_assert_eq(r->nstanza, 1);
	cr_assert_eq(r->nerr, 0);
	codec_xml.restart(r->codec);
	cr_assert_eq(feed_str(r, HDR "<iq id='kept'/>"), 0);
	cr_assert_eq(r->nopen, 2);
	cr_assert_eq(r->nstanza, 2);
	rec_free(r);
}

Test(codec_xml, destroy_mid_stanza)
{
	struct rec	*r;

	/* The partial tree is released (checked by ASan / valgrind). */
	r = rec_new(NULL);
	cr_assert_eq(feed_str(r, HDR "<message to='a@b'><body>abc<x xmlns="
	    "'urn:x'><y>def"), 0);
	cr_assert_eq(r->nstanza, 0);
	rec_free(r);
}

/*
 * Feeds in (whole, then split at every offset for short inputs): exactly
 * one error with cond and a text containing part, feed returns -1, and
 * nothing more is parsed afterwards.
 */
static void
expect_error_lim(const char *in, size_t len, const char *cond,
    const char *part, const struct tern_limits *lim)
{
	struct rec	*r;
	size_t		 i, nsplit;
	int		 rv, before;

	nsplit = len <= 600 ? len : 0;
	for (i = 0; i <= nsplit; i++) {
		r = rec_new(lim);
		if (i == 0) {
			rv = feed(r, in, len);
		} else {
			rv = feed(r, in, i);
			if (rv == 0)
				rv = feed(r, in + i, len - i);
		}
		cr_assert_eq(rv, -1, "feed (split %zu)", i);
		cr_assert_eq(r->nerr, 1, "errors (split %zu)", i);
		cr_assert_str_eq(r->cond, cond, "split %zu: %s", i, r->text);
		if (part != NULL)
			cr_assert_not_null(strstr(r->text, part),
			    "text '%s' lacks '%s'", r->text, part);
		before = rec_events(r);
		cr_assert_eq(feed_str(r, HDR "<iq id='more'/>"), -1);
		cr_assert_eq(rec_events(r), before);
		codec_xml.restart(r->codec);
		codec_xml.pause(r->codec);
		cr_assert_eq(feed_str(r, "<iq/>"), -1);
		cr_assert_eq(r->nerr, 1);
		rec_free(r);
	}
}

static void
expect_error(const char *in, const char *cond, const char *part)
{
	expect_error_lim(in, strlen(in), cond, part, NULL);
}

Test(codec_xml, hostile_doctype)
{
	expect_error("<?xml version='1.0'?><!DOCTYPE stream:stream>" HDR,
	    "restricted-xml", "document type");
	expect_error("<!DOCTYPE x SYSTEM 'http://example.org/x.dtd'>" HDR,
	    "restricted-xml", NULL);
}

Test(codec_xml, hostile_billion_laughs)
{
	expect_error("<?xml version='1.0'?>"
	    "<!DOCTYPE lolz [<!ENTITY lol 'lol'>"
	    "<!ENTITY lol2 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>"
	    "<!ENTITY lol3 '&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;'>"
	    "<!ENTITY lol4 '&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;'>"
	    "<!ENTITY lol5 '&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;'>"
	    "<!ENTITY lol6 '&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;'>"
	    "<!ENTITY lol7 '&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;'>"
	    "<!ENTITY lol8 '&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;'>"
	    "<!ENTITY lol9 '&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;'>"
	    "]>"
	    "<stream:stream xmlns='jabber:client' " NS_STREAMS_ATTR ">"
	    "<message><body>&lol9;</body></message>",
	    "restricted-xml", NULL);
}

Test(codec_xml, hostile_entities)
{
	/* External entity (XXE). */
	expect_error("<?xml version='1.0'?><!DOCTYPE s [<!ENTITY xxe SYSTEM "
	    "'file:///etc/passwd'>]>" HDR "<message><body>&xxe;</body>"
	    "</message>", "restricted-xml", NULL);
	/* Parameter entity. */
	expect_error("<!DOCTYPE s [<!ENTITY % p SYSTEM 'http://evil/x'> %p;]>"
	    HDR, "restricted-xml", NULL);
	/* A reference to an entity never declared. */
	expect_error(HDR "<message><body>&xxe;</body></message>",
	    "restricted-xml", "undefined entity");
}

Test(codec_xml, hostile_pi_and_comment)
{
	expect_error(HDR "<message><?php evil()?></message>",
	    "restricted-xml", "processing instruction");
	expect_error("<?xml-stylesheet href='x'?>" HDR, "restricted-xml",
	    "processing instruction");
	expect_error(HDR "<message><!-- hi --></message>", "restricted-xml",
	    "comment");
	expect_error("<!-- before -->" HDR, "restricted-xml", "comment");
	expect_error(HDR "<iq/><!-- between -->", "restricted-xml",
	    "comment");
}

Test(codec_xml, hostile_utf8)
{
	/* Invalid UTF-8 in text and in an attribute value. */
	expect_error(HDR "<message><body>caf\xc3\x28</body></message>",
	    "not-well-formed", "invalid token");
	expect_error(HDR "<message><body>\xff\xfe</body></message>",
	    "not-well-formed", "invalid token");
	expect_error(HDR "<message to='\xc0\xaf'/>", "not-well-formed",
	    "invalid token");
	/* Overlong encoding and a UTF-16 surrogate encoded in UTF-8. */
	expect_error(HDR "<message><body>\xe0\x80\xaf</body></message>",
	    "not-well-formed", NULL);
	expect_error(HDR "<message><body>\xed\xa0\x80</body></message>",
	    "not-well-formed", NULL);
	/* Truncated sequence before the end tag. */
	expect_error(HDR "<message><body>\xe2\x98</body></message>",
	    "not-well-formed", NULL);
}

Test(codec_xml, hostile_forbidden_code_points)
{
	expect_error(HDR "<message><body>&#x0;</body></message>",
	    "not-well-formed", "invalid character number");
	expect_error(HDR "<message><body>&#1;</body></message>",
	    "not-well-formed", "invalid character number");
	expect_error(HDR "<message><body>&#xFFFE;</body></message>",
	    "not-well-formed", "invalid character number");
	expect_error(HDR "<message><body>&#xD800;</body></message>",
	    "not-well-formed", "invalid character number");
	expect_error(HDR "<message><body>a\x01z</body></message>",
	    "not-well-formed", "invalid token");
	expect_error_lim(HDR "<message><body>a\0z</body></message>",
	    sizeof(HDR "<message><body>a\0z</body></message>") - 1,
	    "not-well-formed", "invalid token", NULL);
	expect_error(HDR "<message to='&#x1b;'/>", "not-well-formed",
	    "invalid character number");
	expect_error(HDR "<message><body>\xef\xbf\xbf</body></message>",
	    "not-well-formed", NULL);
}

Test(codec_xml, hostile_namespaces)
{
	/* Streams namespace wrong on the element. */
	expect_error("<stream:stream xmlns='jabber:client' "
	    "xmlns:stream='http://etherx.jabber.org/wrong'>",
	    "invalid-namespace", NULL);
	/* Right element through another prefix, stream: bound wrongly. */
	expect_error("<s:stream xmlns:s='http://etherx.jabber.org/streams' "
	    "xmlns='jabber:client' xmlns:stream='urn:wrong'>",
	    "invalid-namespace", "prefix stream");
	/* Wrong, missing and undeclared default namespace. */
	expect_error("<stream:stream xmlns='jabber:server' "
	    NS_STREAMS_ATTR ">", "invalid-namespace", "jabber:client");
	expect_error("<stream:stream " NS_STREAMS_ATTR ">",
	    "invalid-namespace", "jabber:client");
	expect_error("<stream:stream xmlns='' " NS_STREAMS_ATTR ">",
	    "invalid-namespace", "jabber:client");
	/* Not a stream element at all. */
	expect_error("<stream xmlns='jabber:client'>", "invalid-namespace",
	    "root element");
	expect_error("<stream:features xmlns='jabber:client' "
	    NS_STREAMS_ATTR ">", "invalid-namespace", "root element");
	/* An unbound prefix is a well-formedness error. */
	expect_error("<stream:stream xmlns='jabber:client'>",
	    "not-well-formed", "unbound prefix");
}

Test(codec_xml, hostile_encoding)
{
	expect_error("<?xml version='1.0' encoding='ISO-8859-1'?>"
	    "<stream:stream xmlns='jabber:client' " NS_STREAMS_ATTR ">",
	    "unsupported-encoding", "ISO-8859-1");
	expect_error("<?xml version='1.0' encoding='UTF-16'?>"
	    "<stream:stream xmlns='jabber:client' " NS_STREAMS_ATTR ">",
	    "unsupported-encoding", NULL);
}

/*
 * Expat switches to UTF-16 on a byte order mark or a "<\0" start even
 * when created for UTF-8: such a stream was once accepted.
 */
Test(codec_xml, hostile_utf16_stream)
{
	static const char	bom_le[] = "\xff\xfe<\0?\0x\0m\0l\0";
	static const char	bom_be[] = "\xfe\xff\0<\0?\0x\0m\0l";
	static const char	bare_le[] = "<\0s\0t\0r\0e\0a\0m\0";
	static const char	bare_be[] = "\0<\0s\0t\0r\0e\0a\0m";

	expect_error_lim(bom_le, sizeof(bom_le) - 1, "unsupported-encoding",
	    "UTF-8", NULL);
	expect_error_lim(bom_be, sizeof(bom_be) - 1, "unsupported-encoding",
	    "UTF-8", NULL);
	expect_error_lim(bare_le, sizeof(bare_le) - 1,
	    "unsupported-encoding", "0x00", NULL);
	expect_error_lim(bare_be, sizeof(bare_be) - 1,
	    "unsupported-encoding", "0x00", NULL);
}

Test(codec_xml, encoding_utf8_accepted)
{
	struct rec	*r;

	r = rec_new(NULL);
	cr_assert_eq(feed_str(r, "<?xml version='1.0' encoding='utf-8'?>"
	    "<stream:stream xmlns='jabber:client' " NS_STREAMS_ATTR ">"
	    "<iq/>"), 0);
	cr_assert_eq(r->nopen, 1);
	cr_assert_eq(r->nstanza, 1);
	rec_free(r);

	/* A UTF-8 byte order mark is fine too. */
	r = rec_new(NULL);
	cr_assert_eq(feed_str(r, "\xef\xbb\xbf" HDR "<iq/>"), 0);
	cr_assert_eq(r->nstanza, 1);
	rec_free(r);
}

Test(codec_xml, hostile_garbage)
{
	expect_error("GET / HTTP/1.1\r\nHost: example.org\r\n\r\n",
	    "not-well-formed", NULL);
	expect_error(HDR "<message></presence>", "not-well-formed",
	    "mismatched tag");
	expect_error(HDR "<message a='1' a='2'/>", "not-well-formed",
	    "duplicate attribute");
	expect_error(HDR "</stream:stream><iq/>", "not-well-formed", NULL);
}

Test(codec_xml, hostile_text_at_stream_level)
{
	expect_error(HDR "hello", "bad-format", NULL);
	expect_error(HDR "<iq/> x <iq/>", "bad-format", NULL);
	expect_error(HDR "&amp;", "bad-format", NULL);
}

/* n bytes of filler appended to prefix; caller frees. */
static char *
big(const char *prefix, char fill, size_t n, const char *suffix)
{
	size_t	 plen = strlen(prefix), slen = strlen(suffix);
	char	*s;

	s = malloc(plen + n + slen + 1);
	cr_assert_not_null(s);
	memcpy(s, prefix, plen);
	memset(s + plen, fill, n);
	memcpy(s + plen + n, suffix, slen + 1);
	return s;
}

/*
 * Feeds in in chunks of chunk bytes.  The error must come in the chunk
 * that crosses limit_at, give or take a few KiB: the codec never holds
 * much more than the limit, however the input is cut.
 */
static void
expect_limit_chunked(const char *in, size_t chunk, size_t limit_at)
{
	struct rec	*r;
	size_t		 off, len = strlen(in), n;
	int		 rv = 0;

	r = rec_new(NULL);
	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		if ((rv = feed(r, in + off, n)) == -1)
			break;
	}
	cr_assert_eq(rv, -1);
	cr_assert_eq(r->nerr, 1);
	cr_assert_str_eq(r->cond, "policy-violation");
	cr_assert_leq(off, limit_at + 8192, "error in the chunk at %zu",
	    off);
	rec_free(r);
}

Test(codec_xml, limit_text_node_1mb)
{
	char	*in;
	size_t	 mb = 1024 * 1024;

	in = big(HDR "<message><body>", 'a', mb, "</body></message>");
	expect_error_lim(in, strlen(in), "policy-violation",
	    "max_stanza_size", NULL);
	expect_limit_chunked(in, 1000, strlen(HDR) + deflim.stanza_size);
	expect_limit_chunked(in, 65536, strlen(HDR) + deflim.stanza_size);
	free(in);

	/* A text node that never ends: no end tag ever comes. */
	in = big(HDR "<message><body>", 'a', mb, "");
	expect_error_lim(in, strlen(in), "policy-violation",
	    "max_stanza_size", NULL);
	free(in);
}

Test(codec_xml, limit_endless_start_tag)
{
	char	*in;
	size_t	 mb = 1024 * 1024;

	in = big(HDR "<message to='", 'a', mb, "");
	expect_error_lim(in, strlen(in), "policy-violation",
	    "max_stanza_size", NULL);
	expect_limit_chunked(in, 1000, strlen(HDR) + deflim.stanza_size);
	free(in);

	/* Before any stream header. */
	in = big("<stream:stream xmlns='jabber:client' to='", 'a', mb, "");
	expect_error_lim(in, strlen(in), "policy-violation",
	    "max_stanza_size", NULL);
	expect_limit_chunked(in, 4000, deflim.stanza_size);
	free(in);
}

Test(codec_xml, limit_stanza_size_exact)
{
	struct tern_limits	 lim = deflim;
	struct rec		*r;
	char			*st, *in;

	/* Exactly at the limit passes, one byte over fails. */
	st = big("<message><body>", 'x', 500, "</body></message>");
	lim.stanza_size = strlen(st);
	r = rec_new(&lim);
	cr_assert_eq(feed_str(r, HDR "  "), 0);
	cr_assert_eq(feed_str(r, st), 0);
	cr_assert_eq(feed_str(r, " \n"), 0);
	cr_assert_eq(feed_str(r, st), 0);
	cr_assert_eq(r->nstanza, 2);
	rec_free(r);

	lim.stanza_size = strlen(st) - 1;
	in = big(HDR, ' ', 3, st);
	expect_error_lim(in, strlen(in), "policy-violation",
	    "max_stanza_size", &lim);
	free(in);
	free(st);
}

Test(codec_xml, limit_depth)
{
	struct evbuffer		*b;
	struct tern_limits	 lim = deflim;
	struct rec		*r;
	char			*in;
	int			 i;

	b = evbuffer_new();
	evbuffer_add_printf(b, "%s", HDR);
	for (i = 0; i < 10000; i++)
		evbuffer_add_printf(b, "<a>");
	in = buf_str(b);
	expect_error_lim(in, strlen(in), "policy-violation", "max_depth",
	    NULL);
	free(in);
	evbuffer_free(b);

	/* The top-level element is at nesting 1. */
	lim.depth = 3;
	r = rec_new(&lim);
	cr_assert_eq(feed_str(r, HDR "<message><a><b/></a></message>"), 0);
	cr_assert_eq(r->nstanza, 1);
	rec_free(r);
	expect_error_lim(HDR "<message><a><b><c/></b></a></message>",
	    strlen(HDR "<message><a><b><c/></b></a></message>"),
	    "policy-violation", "max_depth (3)", &lim);
}

static char *
many_attrs(int n)
{
	struct evbuffer	*b;
	char		*s;
	int		 i;

	b = evbuffer_new();
	evbuffer_add_printf(b, "%s<message", HDR);
	for (i = 0; i < n; i++)
		evbuffer_add_printf(b, " a%d='%d'", i, i);
	evbuffer_add_printf(b, "/>");
	s = buf_str(b);
	evbuffer_free(b);
	return s;
}

/*
 * A long start tag fed in small pieces: expat parsed it again from its
 * start on every piece (quadratic; seconds for a few MiB).  With
 * deferral past 64 KiB the cost is linear, and the stanza still comes
 * out with its last byte, however small the last piece.
 */
static void
long_tag_in_pieces(size_t vlen, size_t piece, const char *tail)
{
	static const char	 head[] = HDR "<message a='";
	struct tern_limits	 lim = deflim;
	struct rec		*r;
	size_t			 len, i, n;
	char			*in;

	lim.stanza_size = 16 * 1024 * 1024;
	len = sizeof(head) - 1 + vlen;
	in = malloc(len);
	cr_assert_not_null(in);
	memcpy(in, head, sizeof(head) - 1);
	memset(in + sizeof(head) - 1, 'v', vlen);
	r = rec_new(&lim);
	for (i = 0; i < len; i += n) {
		n = len - i < piece ? len - i : piece;
		cr_assert_eq(feed(r, in + i, n), 0);
	}
	cr_assert_eq(r->nstanza, 0);
	/* The end of the tag alone, or with the rest of the stanza. */
	cr_assert_eq(feed_str(r, tail), 0);
	cr_assert_eq(r->nstanza, 1, "a %zu-byte tag was not delivered when "
	    "its last bytes came", len);
	cr_assert_eq(r->nerr, 0);
	rec_free(r);
	free(in);
}

Test(codec_xml, long_tag_delivered_at_once)
{
	long_tag_in_pieces(200 * 1024, 1000, "'/>");
	long_tag_in_pieces(200 * 1024, 1000, "'>x</message>");
	long_tag_in_pieces(70 * 1024, 7, "' b='>'/>");
	long_tag_in_pieces(1024 * 1024, 4096, "' b=\"'\"/>");
}

Test(codec_xml, long_tag_linear)
{
	clock_t	t0 = clock();
	double	secs;

	/* Was about 6 s of CPU (25 s for 16 MiB); now a few ms. */
	long_tag_in_pieces(8 * 1024 * 1024, 1024, "'/>");
	secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	cr_assert_lt(secs, 2.0, "an 8 MiB start tag fed in 1 KiB pieces "
	    "took %.1fs of CPU", secs);
}

Test(codec_xml, limit_attrs)
{
	struct tern_limits	 lim = deflim;
	struct rec		*r;
	char			*in;

	/* 100,000 attributes: caught by the byte limit first ... */
	in = many_attrs(100000);
	expect_error_lim(in, strlen(in), "policy-violation", NULL, NULL);
	/* ... and by the attribute limit when bytes are allowed. */
	lim.stanza_size = 16 * 1024 * 1024;
	expect_error_lim(in, strlen(in), "policy-violation", "max_attrs",
	    &lim);
	free(in);

	/* Exactly at the limit passes, one over fails. */
	lim = deflim;
	lim.attrs = 6;
	in = many_attrs(6);
	r = rec_new(&lim);
	cr_assert_eq(feed_str(r, in), 0);
	cr_assert_eq(r->nstanza, 1);
	rec_free(r);
	free(in);
	in = many_attrs(7);
	expect_error_lim(in, strlen(in), "policy-violation", "max_attrs (6)",
	    &lim);
	free(in);

	/* Namespace declarations count as attributes. */
	expect_error_lim(HDR "<message xmlns:a='urn:a' xmlns:b='urn:b' "
	    "xmlns:c='urn:c' a:x='1' b:x='2' c:x='3' to='t'/>",
	    strlen(HDR "<message xmlns:a='urn:a' xmlns:b='urn:b' "
	    "xmlns:c='urn:c' a:x='1' b:x='2' c:x='3' to='t'/>"),
	    "policy-violation", "max_attrs", &lim);
	/* The header counts too: 2 declarations and 3 attributes. */
	lim.attrs = 4;
	expect_error_lim(HDR, strlen(HDR), "policy-violation", "max_attrs",
	    &lim);
}

Test(codec_xml, error_called_once)
{
	struct rec	*r;

	/* Several faults in one chunk: one error, the first. */
	r = rec_new(NULL);
	cr_assert_eq(feed_str(r, HDR "<!-- c --><?pi x?>\x01<<>&#0;"), -1);
	cr_assert_eq(r->nerr, 1);
	cr_assert_str_eq(r->cond, "restricted-xml");
	cr_assert_eq(feed_str(r, "</stream:stream>"), -1);
	cr_assert_eq(feed_str(r, ""), -1);
	cr_assert_eq(r->nerr, 1);
	cr_assert_eq(r->nclose, 0);
	rec_free(r);

	/* A stanza complete before the fault is still delivered. */
	r = rec_new(NULL);
	cr_assert_eq(feed_str(r, HDR "<iq id='ok'/><iq id='bad'>\x01"), -1);
	cr_assert_eq(r->nstanza, 1);
	cr_assert_eq(r->nerr, 1);
	rec_free(r);
}

/* Serializer. */

static char *
ser(const struct stanza *st, const char *parent_ns)
{
	struct evbuffer	*b;
	char		*s;

	b = evbuffer_new();
	codec_xml_serialize(st, b, parent_ns);
	s = buf_str(b);
	evbuffer_free(b);
	return s;
}

Test(codec_xml, serialize_escaping)
{
	struct stanza	*st;
	char		*s;

	st = stanza_new(STANZA_NS_CLIENT, "message");
	stanza_set_attr(st, "a", "q'q\"l<g>a&t\tn\nr\r.");
	stanza_add_text(st, "x<y>&z'\"]]>\r\n\t", 14);
	s = ser(st, NULL);
	cr_assert_str_eq(s, "<message xmlns='jabber:client' "
	    "a='q&apos;q&quot;l&lt;g&gt;a&amp;t&#9;n&#10;r&#13;.'>"
	    "x&lt;y&gt;&amp;z'\"]]&gt;&#13;\n\t</message>");
	free(s);
	stanza_unref(st);
}

Test(codec_xml, serialize_namespaces)
{
	struct stanza	*m, *x, *f, *plain;
	char		*s;

	m = stanza_new(STANZA_NS_CLIENT, "message");
	stanza_set_attr_ns(m, STANZA_NS_XML, "lang", "en");
	stanza_add_text_child(m, NULL, "body", "hi");
	x = stanza_add_child(m, "jabber:x:data", "x");
	f = stanza_add_child(x, NULL, "field");
	stanza_add_child(f, STANZA_NS_CLIENT, "back");
	plain = stanza_add_child(m, NULL, "p");
	plain = stanza_add_child(plain, NULL, "q");
	free(plain->ns);
	plain->ns = NULL;
	stanza_set_attr(f, "var", "v");
	stanza_set_attr_ns(f, "urn:a", "one", "1");
	stanza_set_attr_ns(f, "urn:b", "two", "2");
	stanza_set_attr_ns(f, "urn:a", "three", "3");
	stanza_set_attr_ns(f, STANZA_NS_XML, "space", "preserve");
	/* Never written: the namespaces are the serializer's business. */
	stanza_set_attr(f, "xmlns", "urn:wrong");
	stanza_set_attr(f, "xmlns:ns2", "urn:clash");
	stanza_set_attr(f, "xmlnsfoo", "kept");

	s = ser(m, STANZA_NS_CLIENT);
	cr_assert_str_eq(s, "<message xml:lang='en'><body>hi</body>"
	    "<x xmlns='jabber:x:data'><field var='v' xmlns:ns2='urn:a' "
	    "ns2:one='1' xmlns:ns3='urn:b' ns3:two='2' ns2:three='3' "
	    "xml:space='preserve' xmlnsfoo='kept'><back "
	    "xmlns='jabber:client'/></field></x>"
	    "<p><q xmlns=''/></p></message>");
	free(s);
	s = ser(m, "jabber:server");
	cr_assert_str_eq(s + strlen(s) - 10, "</message>");
	s[45] = '\0';
	cr_assert_str_eq(s, "<message xmlns='jabber:client' xml:lang='en'>");
	free(s);
	stanza_unref(m);
}

/* XEP-0220 elements carry the db: prefix, declared where they stand. */
Test(codec_xml, serialize_dialback_prefix)
{
	struct stanza	*st, *e, *back;
	char		*s;

	st = stanza_new("jabber:server:dialback", "result");
	stanza_set_attr(st, "from", "a.test");
	stanza_set_attr(st, "type", "error");
	e = stanza_add_child(st, NULL, "error");
	stanza_add_child(e, STANZA_NS_STANZAS, "remote-connection-failed");
	stanza_add_text(st, "k", 1);
	s = ser(st, "jabber:server");
	cr_assert_str_eq(s, "<db:result xmlns:db='jabber:server:dialback' "
	    "from='a.test' type='error'><db:error "
	    "xmlns:db='jabber:server:dialback'><remote-connection-failed "
	    "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></db:error>k"
	    "</db:result>");
	back = codec_xml_parse_one(s, strlen(s));
	cr_assert_not_null(back);
	cr_assert_str_eq(back->ns, "jabber:server:dialback");
	cr_assert_str_eq(back->name, "result");
	cr_assert_not_null(stanza_child(back, "jabber:server:dialback",
	    "error"));
	stanza_unref(back);
	free(s);
	stanza_unref(st);
}

Test(codec_xml, serialize_stream_prefix)
{
	struct stanza	*st, *c;
	char		*s;

	st = stanza_new(STANZA_NS_STREAMS, "features");
	c = stanza_add_child(st, "urn:ietf:params:xml:ns:xmpp-tls",
	    "starttls");
	stanza_add_child(c, NULL, "required");
	stanza_add_child(st, STANZA_NS_CLIENT, "in-default");
	s = ser(st, STANZA_NS_CLIENT);
	cr_assert_str_eq(s, "<stream:features><starttls "
	    "xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
	    "<in-default/></stream:features>");
	free(s);
	stanza_unref(st);

	st = stanza_new(STANZA_NS_STREAMS, "error");
	stanza_add_child(st, STANZA_NS_STREAM_ERR, "not-well-formed");
	stanza_add_text_child(st, STANZA_NS_STREAM_ERR, "text", "bad <tag>");
	s = ser(st, STANZA_NS_CLIENT);
	cr_assert_str_eq(s, "<stream:error><not-well-formed "
	    "xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text "
	    "xmlns='urn:ietf:params:xml:ns:xmpp-streams'>bad &lt;tag&gt;"
	    "</text></stream:error>");
	free(s);
	stanza_unref(st);
}

Test(codec_xml, write_header_stanza_close)
{
	struct stanza	*hdr, *st;
	struct evbuffer	*b;
	struct rec	*r;
	char		*s;

	r = rec_new(NULL);
	b = evbuffer_new();
	hdr = stanza_new(STANZA_NS_STREAMS, "stream");
	stanza_set_attr_ns(hdr, STANZA_NS_XML, "lang", "en");
	stanza_set_attr(hdr, "version", "1.0");
	stanza_set_attr(hdr, "id", "c2s'1");
	stanza_set_attr(hdr, "from", "example.org");
	stanza_set_attr(hdr, "ignored", "x");
	codec_xml.write_header(r->codec, b, hdr);
	st = stanza_new(STANZA_NS_CLIENT, "iq");
	stanza_set_attr(st, "type", "result");
	codec_xml.write_stanza(r->codec, b, st);
	codec_xml.write_close(r->codec, b);
	s = buf_str(b);
	cr_assert_str_eq(s, "<?xml version='1.0'?><stream:stream "
	    "xmlns='jabber:client' " NS_STREAMS_ATTR " from='example.org' "
	    "id='c2s&apos;1' version='1.0' xml:lang='en'>"
	    "<iq type='result'/></stream:stream>");

	/* What we write, we read. */
	cr_assert_eq(feed_str(r, s), 0);
	cr_assert_eq(r->nopen, 1);
	cr_assert_eq(r->nstanza, 1);
	cr_assert_eq(r->nclose, 1);
	free(s);
	stanza_unref(hdr);
	stanza_unref(st);
	evbuffer_free(b);
	rec_free(r);
}

/* Writes sts as a stream, parses it back, compares the trees. */
static void
round_trip(struct stanza **sts, size_t n)
{
	struct stanza	*hdr;
	struct evbuffer	*b;
	struct rec	*r;
	char		*s;
	size_t		 i;

	r = rec_new(NULL);
	r->keep = 1;
	b = evbuffer_new();
	hdr = stanza_new(STANZA_NS_STREAMS, "stream");
	stanza_set_attr(hdr, "to", "example.org");
	codec_xml.write_header(r->codec, b, hdr);
	for (i = 0; i < n; i++)
		codec_xml.write_stanza(r->codec, b, sts[i]);
	codec_xml.write_close(r->codec, b);
	s = buf_str(b);
	cr_assert_eq(feed_str(r, s), 0, "%s", r->text);
	cr_assert_eq(r->nkept, n);
	for (i = 0; i < n; i++)
		cr_assert(tree_equal(sts[i], r->kept[i]), "stanza %zu in %s",
		    i, s);
	free(s);
	stanza_unref(hdr);
	evbuffer_free(b);
	rec_free(r);
}

Test(codec_xml, round_trip_built)
{
	struct stanza	*sts[3], *m, *c, *d;

	m = stanza_new(STANZA_NS_CLIENT, "message");
	stanza_set_attr(m, "to", "a&b@example.org/<r>");
	stanza_set_attr(m, "note", "tab\there\nnewline\r\ncrlf 'q' \"d\"");
	stanza_set_attr_ns(m, STANZA_NS_XML, "lang", "de-CH");
	stanza_add_text(m, "lead ", 5);
	c = stanza_add_text_child(m, NULL, "body",
	    "1 < 2 && 3 > 2 ]]> \r\n\xe2\x98\xba \xf0\x9f\x98\x80");
	stanza_set_attr_ns(c, "urn:a", "x", "1");
	stanza_set_attr_ns(c, "urn:b", "x", "2");
	stanza_add_text(m, " mid ", 5);
	d = stanza_add_child(m, "urn:deep", "d");
	d = stanza_add_child(d, NULL, "e");
	stanza_add_child(d, STANZA_NS_CLIENT, "back-in-client");
	stanza_add_child(d, STANZA_NS_STREAMS, "odd");
	c = stanza_add_child(m, NULL, "nons");
	free(c->ns);
	c->ns = NULL;
	stanza_add_child(c, NULL, "child-of-nons");
	stanza_add_text(m, " tail", 5);
	sts[0] = m;

	sts[1] = stanza_new(STANZA_NS_STREAMS, "features");
	stanza_add_child(stanza_add_child(sts[1],
	    "urn:ietf:params:xml:ns:xmpp-sasl", "mechanisms"), NULL,
	    "mechanism");
	sts[2] = stanza_new("urn:ietf:params:xml:ns:xmpp-sasl", "auth");
	stanza_set_attr(sts[2], "mechanism", "SCRAM-SHA-1");
	stanza_add_text(sts[2], "biwsbj11c2VyLHI9ZnlrbytkMmxi", 28);

	round_trip(sts, 3);
	stanza_unref(sts[0]);
	stanza_unref(sts[1]);
	stanza_unref(sts[2]);
}

Test(codec_xml, round_trip_parsed)
{
	struct rec	*r;
	char		*in;
	size_t		 len;

	in = client_stream(&len, NULL, NULL);
	r = rec_new(NULL);
	r->keep = 1;
	cr_assert_eq(feed(r, in, len), 0);
	round_trip(r->kept, r->nkept);
	free(in);
	rec_free(r);
}

/*
 * Between stanzas the parser is freed and later rebuilt from the saved
 * header: prefixes declared on the header (with URIs that need escaping
 * when replayed) must still resolve in later stanzas, each fed alone.
 */
Test(codec_xml, idle_parser_keeps_header_context)
{
	struct rec	*r = rec_new(&deflim);
	struct stanza	*st;

	r->keep = 1;
	cr_assert_eq(feed_str(r, "<stream:stream xmlns='jabber:client' "
	    "xmlns:stream='http://etherx.jabber.org/streams' "
	    "xmlns:q=\"urn:x:it's&amp;&lt;\" to='example.org' "
	    "version='1.0'>"), 0);
	cr_assert_eq(feed_str(r, "<message><q:x/></message>"), 0);
	cr_assert_eq(feed_str(r, " "), 0);
	cr_assert_eq(feed_str(r, "<iq type='get' id='1'><q:y/></iq>"), 0);
	cr_assert_eq(r->nstanza, 2);
	st = stanza_child(r->kept[0], "urn:x:it's&<", "x");
	cr_assert_not_null(st, "prefix q lost after the first stanza");
	st = stanza_child(r->kept[1], "urn:x:it's&<", "y");
	cr_assert_not_null(st, "prefix q lost after an idle period");
	cr_assert_str_eq(r->kept[1]->ns, STANZA_NS_CLIENT);
	rec_free(r);
}

/* Found by fuzz_codec_xml: relayed, <xml:x/> must stay well-formed. */
Test(codec_xml, element_in_xml_namespace_round_trips)
{
	struct rec	*r = rec_new(&deflim);
	struct evbuffer	*b = evbuffer_new();
	struct stanza	*again;
	char		*xml;
	size_t		 len;

	r->keep = 1;
	cr_assert_eq(feed_str(r, HDR "<message><xml:x/><body>hi</body>"
	    "</message>"), 0);
	cr_assert_eq(r->nstanza, 1);
	codec_xml_serialize(r->kept[0], b, STANZA_NS_CLIENT);
	len = evbuffer_get_length(b);
	xml = (char *)evbuffer_pullup(b, -1);
	cr_assert_not_null(memmem(xml, len, "<xml:x/>", 8), "%.*s",
	    (int)len, xml);
	again = codec_xml_parse_one(xml, len);
	cr_assert_not_null(again, "serialization does not parse: %.*s",
	    (int)len, xml);
	cr_assert_not_null(stanza_child(again, STANZA_NS_XML, "x"));
	stanza_unref(again);
	evbuffer_free(b);
	rec_free(r);
}

/* Found by fuzz_codec_xml: CDATA between stanzas desynchronised the
 * parser rebuilt after an idle period. */
Test(codec_xml, cdata_between_stanzas_refused)
{
	struct rec	*r = rec_new(&deflim);

	cr_assert_eq(feed_str(r, HDR "<presence/><![CDATA[ "), -1);
	cr_assert_str_eq(r->cond, "bad-format");
	cr_assert_eq(r->nerr, 1);
	rec_free(r);
}
