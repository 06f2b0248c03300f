/*
 * The XML codec: expat turns a peer's bytes into stanza trees, and
 * codec_xml_serialize turns trees back into XML.  The codec enforces the
 * limits (bytes per top-level element, nesting depth, attributes per
 * element) and refuses what RFC 6120 11 forbids (DTDs, entities other
 * than the predefined ones, comments, processing instructions, encodings
 * other than UTF-8), each as one stream error through cb->error, after
 * which nothing more is parsed.
 *
 * Ownership: the codec owns its parser, the stanza being built and the
 * saved stream header; between stanzas it holds nothing else.  A
 * finished top-level element is lent to cb->stanza and released when the
 * callback returns.  Callbacks run inside feed() and must not destroy
 * the codec.
 *
 * Input is handed to expat in slices of FEED_SLICE bytes so that the
 * byte limit is checked between slices: a start tag or text node that
 * never ends is refused once it passes the limit, however large the
 * chunk fed at once, and expat's buffer stays bounded by the limit.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <expat.h>

#include "codec.h"
#include "conf.h"
#include "log.h"
#include "stanza.h"
#include "xmalloc.h"

/*
 * Separates namespace URI and local name in the names expat reports.
 * 0xff never occurs in UTF-8, so it cannot occur in a URI.
 */
#define NS_SEP		'\xff'
#define FEED_SLICE	4096	/* bytes per XML_Parse call */
#define DEFER_AFTER	(64 * 1024)	/* see feed_slice */

/* Where the bytes after the last event expat reported stand. */
enum tok_state {
	TOK_TEXT = 0,	/* character data, or unknown */
	TOK_LT,		/* just after '<' */
	TOK_TAG,	/* in a start or end tag */
	TOK_OTHER,	/* in a comment, PI, CDATA or DOCTYPE */
};

#define NS_DIALBACK	"jabber:server:dialback"

/* What the namespace declarations on the stream header said. */
enum hdr_ns {
	HDR_NS_NONE = 0,	/* not declared */
	HDR_NS_OK,
	HDR_NS_BAD,
};

struct xml_codec {
	const struct codec_cb	*cb;
	void			*arg;
	char			*content_ns;
	const struct tern_limits *lim;
	XML_Parser		 p;		/* NULL until bytes arrive */

	/*
	 * The stream header last opened and the namespaces it declared
	 * (prefix, URI pairs; prefix NULL for the default), kept so that
	 * a parser freed while the session idles can be recreated primed
	 * with the same context.
	 */
	struct stanza		*hdr;
	char			**decls;
	size_t			 ndecls;
	enum hdr_ns		 hdr_default;
	enum hdr_ns		 hdr_prefix;

	/* The top-level element being built: stack[0] is its root. */
	struct stanza		**stack;
	unsigned		 stackcap;
	unsigned		 depth;		/* open elements, stream too */
	unsigned		 nsdecls;	/* on the coming start tag */
	char			*text;		/* not yet added to the tree */
	size_t			 textlen;
	size_t			 textcap;

	/* Byte positions from the start of the current parser. */
	XML_Index		 fed;		/* handed to expat */
	XML_Index		 boundary;	/* end of last top-level item */
	XML_Index		 restart_at;	/* where a new stream starts */

	/* The token expat has not finished yet (see feed_slice). */
	XML_Index		 last_event;	/* end of the last event */
	XML_Index		 tok_start;	/* where tok_state began */
	enum tok_state		 tok_state;
	char			 tok_quote;	/* open attribute quote */

	int			 in_feed;
	int			 priming;	/* replaying the saved header */
	int			 failed;
	int			 paused;
	int			 want_restart;
};

static void
fail(struct xml_codec *c, const char *cond, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * The serializer writes into one flat buffer (on the stack for the usual
 * stanza) and hands it to the evbuffer once: an evbuffer_add per name,
 * quote and escape cost more than the copying.
 */
struct obuf {
	char	*p;
	size_t	 len;
	size_t	 cap;
	char	 stack[2048];
};

static void
ob_grow(struct obuf *o, size_t n)
{
	size_t	cap = o->cap * 2;

	while (cap < o->len + n)
		cap *= 2;
	if (o->p == o->stack) {
		o->p = xmalloc(cap);
		memcpy(o->p, o->stack, o->len);
	} else
		o->p = xreallocarray(o->p, cap, 1);
	o->cap = cap;
}

static inline void
ob_add(struct obuf *o, const char *s, size_t n)
{
	if (o->len + n > o->cap)
		ob_grow(o, n);
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static inline void
ob_str(struct obuf *o, const char *s)
{
	ob_add(o, s, strlen(s));
}

static void
put_escaped(struct obuf *out, const char *s, size_t len,
    const char *const *table)
{
	size_t	 i, run = 0;

	for (i = 0; i < len; i++) {
		if (table[(unsigned char)s[i]] == NULL)
			continue;
		ob_add(out, s + run, i - run);
		ob_str(out, table[(unsigned char)s[i]]);
		run = i + 1;
	}
	ob_add(out, s + run, len - run);
}

static void	put_attr(struct obuf *, const char *, const char *,
		    const char *);

static void
tree_clear(struct xml_codec *c)
{
	if (c->stack != NULL)
		stanza_unref(c->stack[0]);
	free(c->stack);
	c->stack = NULL;
	c->stackcap = 0;
	free(c->text);
	c->text = NULL;
	c->textlen = c->textcap = 0;
}

static void
decls_clear(struct xml_codec *c)
{
	size_t	i;

	for (i = 0; i < c->ndecls * 2; i++)
		free(c->decls[i]);
	free(c->decls);
	c->decls = NULL;
	c->ndecls = 0;
	c->hdr_default = c->hdr_prefix = HDR_NS_NONE;
}

/* Forgets the stream: the next bytes start a new one.  Not in a handler. */
static void
stream_reset(struct xml_codec *c)
{
	if (c->p != NULL)
		XML_ParserFree(c->p);
	c->p = NULL;
	tree_clear(c);
	decls_clear(c);
	stanza_unref(c->hdr);
	c->hdr = NULL;
	c->depth = 0;
	c->nsdecls = 0;
	c->fed = c->boundary = c->restart_at = 0;
	c->last_event = c->tok_start = 0;
	c->tok_state = TOK_TEXT;
	c->tok_quote = 0;
	c->paused = c->want_restart = 0;
}

/* Reports a stream error, once, and stops the parser. */
static void
fail(struct xml_codec *c, const char *cond, const char *fmt, ...)
{
	char	 text[256];
	va_list	 ap;

	if (c->failed)
		return;
	c->failed = 1;
	if (c->in_feed)
		XML_StopParser(c->p, XML_FALSE);
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	c->cb->error(c->arg, cond, text);
}

/* Handlers return at once after a stop that expat may not honour yet. */
static int
stopped(const struct xml_codec *c)
{
	return c->failed || c->paused || c->want_restart;
}

/* The end of the current parse event, as a byte position. */
static XML_Index
event_end(const struct xml_codec *c)
{
	return XML_GetCurrentByteIndex(c->p) + XML_GetCurrentByteCount(c->p);
}

static int
check_size(struct xml_codec *c, XML_Index end)
{
	if ((unsigned long long)(end - c->boundary) <= c->lim->stanza_size)
		return 0;
	fail(c, "policy-violation",
	    "top-level element larger than max_stanza_size (%zu bytes)",
	    c->lim->stanza_size);
	return -1;
}

static int
check_attrs(struct xml_codec *c, const XML_Char **atts)
{
	size_t	i, n = c->nsdecls;

	/* Namespace declarations are attributes too. */
	c->nsdecls = 0;
	for (i = 0; atts[i] != NULL; i += 2)
		n++;
	if (n <= c->lim->attrs)
		return 0;
	fail(c, "policy-violation",
	    "more than max_attrs (%u) attributes on one element",
	    c->lim->attrs);
	return -1;
}

/* "uri<sep>local" or "local" -> a new element. */
static struct stanza *
element_new(const XML_Char *name)
{
	struct stanza	*el;
	const char	*sep;
	char		*ns;

	if ((sep = strchr(name, NS_SEP)) == NULL)
		return stanza_new(NULL, name);
	ns = xstrndup(name, sep - name);
	el = stanza_new(ns, sep + 1);
	free(ns);
	return el;
}

static void
element_attrs(struct stanza *el, const XML_Char **atts)
{
	const char	*sep;
	char		*ns;

	for (; atts[0] != NULL; atts += 2) {
		if ((sep = strchr(atts[0], NS_SEP)) == NULL) {
			stanza_set_attr(el, atts[0], atts[1]);
			continue;
		}
		ns = xstrndup(atts[0], sep - atts[0]);
		stanza_set_attr_ns(el, ns, sep + 1, atts[1]);
		free(ns);
	}
}

static void
text_flush(struct xml_codec *c)
{
	if (c->textlen == 0)
		return;
	stanza_add_text(c->stack[c->depth - 2], c->text, c->textlen);
	c->textlen = 0;
}

static void
stream_header(struct xml_codec *c, const XML_Char *name,
    const XML_Char **atts)
{
	static const char	 stream_name[] =
	    STANZA_NS_STREAMS "\xff" "stream";

	if (strcmp(name, stream_name) != 0) {
		fail(c, "invalid-namespace", "root element is not "
		    "{" STANZA_NS_STREAMS "}stream");
		return;
	}
	if (c->hdr_default != HDR_NS_OK) {
		fail(c, "invalid-namespace", "default namespace of the "
		    "stream is not %s", c->content_ns);
		return;
	}
	if (c->hdr_prefix == HDR_NS_BAD) {
		fail(c, "invalid-namespace", "prefix stream is not bound "
		    "to " STANZA_NS_STREAMS);
		return;
	}
	if (check_attrs(c, atts) == -1 || check_size(c, event_end(c)) == -1)
		return;
	stanza_unref(c->hdr);
	c->hdr = stanza_new(STANZA_NS_STREAMS, "stream");
	element_attrs(c->hdr, atts);
	c->depth = 1;
	c->boundary = event_end(c);
	c->cb->stream_open(c->arg, c->hdr);
}

static void XMLCALL
on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
	struct xml_codec	*c = ud;
	struct stanza		*el;

	if (stopped(c))
		return;
	c->last_event = event_end(c);
	if (c->depth == 0 && c->priming) {
		c->depth = 1;	/* the replayed header: already reported */
		return;
	}
	if (c->depth == 0) {
		stream_header(c, name, atts);
		return;
	}
	if (check_size(c, event_end(c)) == -1 || check_attrs(c, atts) == -1)
		return;
	/* The top-level element is at nesting 1. */
	if (c->depth > c->lim->depth) {
		fail(c, "policy-violation",
		    "elements nested deeper than max_depth (%u)",
		    c->lim->depth);
		return;
	}
	el = element_new(name);
	element_attrs(el, atts);
	if (c->depth == 1) {
		if (c->stack == NULL) {
			c->stackcap = 8;
			c->stack = xreallocarray(NULL, c->stackcap,
			    sizeof(*c->stack));
		}
		c->stack[0] = el;
	} else {
		text_flush(c);
		stanza_add_child_take(c->stack[c->depth - 2], el);
		if (c->depth - 1 == c->stackcap) {
			c->stackcap *= 2;
			c->stack = xreallocarray(c->stack, c->stackcap,
			    sizeof(*c->stack));
		}
		c->stack[c->depth - 1] = el;
	}
	c->depth++;
}

static void
stanza_done(struct xml_codec *c)
{
	struct stanza	*st = c->stack[0];

	/* Between stanzas the codec holds no tree and no buffers. */
	c->stack[0] = NULL;
	tree_clear(c);
	c->boundary = event_end(c);
	c->cb->stanza(c->arg, st);
	stanza_unref(st);
}

static void XMLCALL
on_end(void *ud, const XML_Char *name)
{
	struct xml_codec	*c = ud;

	if (stopped(c))
		return;
	c->last_event = event_end(c);
	if (c->depth == 1) {
		c->depth = 0;
		c->boundary = event_end(c);
		c->cb->stream_close(c->arg);
		return;
	}
	if (check_size(c, event_end(c)) == -1)
		return;
	text_flush(c);
	if (--c->depth == 1)
		stanza_done(c);
}

static int
is_space(const XML_Char *s, int len)
{
	int	i;

	for (i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' &&
		    s[i] != '\r')
			return 0;
	return 1;
}

static void XMLCALL
on_text(void *ud, const XML_Char *s, int len)
{
	struct xml_codec	*c = ud;
	size_t			 need;

	if (stopped(c))
		return;
	c->last_event = event_end(c);
	if (c->depth == 1) {
		/* Whitespace keepalives between stanzas. */
		if (!is_space(s, len)) {
			fail(c, "bad-format",
			    "character data between top-level elements");
			return;
		}
		c->boundary = event_end(c);
		return;
	}
	if (check_size(c, event_end(c)) == -1)
		return;
	need = c->textlen + (size_t)len;
	if (need > c->textcap) {
		c->textcap = c->textcap == 0 ? 64 : c->textcap;
		while (c->textcap < need)
			c->textcap *= 2;
		c->text = xreallocarray(c->text, c->textcap, 1);
	}
	memcpy(c->text + c->textlen, s, len);
	c->textlen = need;
}

static void XMLCALL
on_ns_start(void *ud, const XML_Char *prefix, const XML_Char *uri)
{
	struct xml_codec	*c = ud;
	int			 ok;

	if (stopped(c) || c->priming)
		return;
	c->nsdecls++;
	if (c->depth != 0)
		return;
	/* Declarations on the stream header. */
	if (prefix == NULL) {
		ok = uri != NULL && strcmp(uri, c->content_ns) == 0;
		c->hdr_default = ok ? HDR_NS_OK : HDR_NS_BAD;
	} else if (strcmp(prefix, "stream") == 0) {
		ok = uri != NULL && strcmp(uri, STANZA_NS_STREAMS) == 0;
		c->hdr_prefix = ok ? HDR_NS_OK : HDR_NS_BAD;
	}
	if (c->nsdecls > c->lim->attrs)
		return;		/* check_attrs refuses the header */
	c->decls = xreallocarray(c->decls, c->ndecls + 1,
	    2 * sizeof(*c->decls));
	c->decls[2 * c->ndecls] = prefix != NULL ? xstrdup(prefix) : NULL;
	c->decls[2 * c->ndecls + 1] = xstrdup(uri != NULL ? uri : "");
	c->ndecls++;
}

static void XMLCALL
on_xmldecl(void *ud, const XML_Char *version, const XML_Char *encoding,
    int standalone)
{
	struct xml_codec	*c = ud;

	if (encoding != NULL && strcasecmp(encoding, "UTF-8") != 0)
		fail(c, "unsupported-encoding",
		    "encoding %.64s declared, only UTF-8 is supported",
		    encoding);
}

static void XMLCALL
on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal_subset)
{
	fail(ud, "restricted-xml", "document type declarations are not "
	    "allowed");
}

static void XMLCALL
on_entity(void *ud, const XML_Char *name, int is_param,
    const XML_Char *value, int value_len, const XML_Char *base,
    const XML_Char *sysid, const XML_Char *pubid, const XML_Char *notation)
{
	fail(ud, "restricted-xml", "entity declarations are not allowed");
}

static void XMLCALL
on_pi(void *ud, const XML_Char *target, const XML_Char *data)
{
	fail(ud, "restricted-xml", "processing instructions are not allowed");
}

static void XMLCALL
on_comment(void *ud, const XML_Char *data)
{
	fail(ud, "restricted-xml", "comments are not allowed");
}

/*
 * A CDATA section between stanzas: even one holding only whitespace would
 * keep expat in a state that an idle parser cannot be rebuilt into.
 */
static void XMLCALL
on_cdata(void *ud)
{
	struct xml_codec	*c = ud;

	if (!stopped(c) && c->depth == 1)
		fail(c, "bad-format", "CDATA section between top-level "
		    "elements");
}

static void
parser_start(struct xml_codec *c)
{
	XML_Parser	p;

	if ((p = XML_ParserCreateNS("UTF-8", NS_SEP)) == NULL)
		fatalx("XML_ParserCreateNS: out of memory");
	XML_SetUserData(p, c);
	XML_SetElementHandler(p, on_start, on_end);
	XML_SetCharacterDataHandler(p, on_text);
	XML_SetStartNamespaceDeclHandler(p, on_ns_start);
	XML_SetXmlDeclHandler(p, on_xmldecl);
	XML_SetStartDoctypeDeclHandler(p, on_doctype);
	XML_SetEntityDeclHandler(p, on_entity);
	XML_SetProcessingInstructionHandler(p, on_pi);
	XML_SetCommentHandler(p, on_comment);
	XML_SetStartCdataSectionHandler(p, on_cdata);
	XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);
	/*
	 * Expat >= 2.6 (and Debian's 2.5.0 with the CVE-2023-52425 fix)
	 * may defer parsing a token until more input arrives; a stanza
	 * must be delivered as soon as its last byte is here.  feed_slice
	 * turns deferral on for long tags only.
	 */
#ifdef HAVE_XML_SETREPARSEDEFERRALENABLED
	XML_SetReparseDeferralEnabled(p, XML_FALSE);
#endif
	c->p = p;
}

/* Expat errors that mean more than "not well-formed". */
static const struct {
	enum XML_Error	 code;
	const char	*cond;
} xml_errors[] = {
	{ XML_ERROR_UNDEFINED_ENTITY,	"restricted-xml" },
	{ XML_ERROR_UNKNOWN_ENCODING,	"unsupported-encoding" },
	{ XML_ERROR_INCORRECT_ENCODING,	"unsupported-encoding" },
	{ XML_ERROR_NO_MEMORY,		"resource-constraint" },
};

static void
fail_expat(struct xml_codec *c)
{
	enum XML_Error	 code = XML_GetErrorCode(c->p);
	const char	*cond = "not-well-formed";
	size_t		 i;

	for (i = 0; i < sizeof(xml_errors) / sizeof(xml_errors[0]); i++)
		if (xml_errors[i].code == code)
			cond = xml_errors[i].cond;
	fail(c, cond, "%s at line %lu, column %lu", XML_ErrorString(code),
	    (unsigned long)XML_GetCurrentLineNumber(c->p),
	    (unsigned long)XML_GetCurrentColumnNumber(c->p));
}

/*
 * Parses one slice.  Returns the bytes of it consumed (less than n when
 * a restart cut it short), or -1 when the rest of the call's input is
 * to be dropped (error, pause).
 */
/*
 * A parser freed while the session idled comes back primed with the
 * stream header's namespace context, so that the next stanza parses as
 * if the parser had never gone.  Positions restart after the header.
 */
static void
parser_prime(struct xml_codec *c)
{
	struct obuf	 o = { .p = o.stack, .cap = sizeof(o.stack) };
	struct obuf	*b = &o;
	size_t		 i, len;
	char		*hdr;

	ob_str(b, "<stream:stream");
	for (i = 0; i < c->ndecls; i++) {
		if (c->decls[2 * i] == NULL)
			put_attr(b, NULL, "xmlns", c->decls[2 * i + 1]);
		else
			put_attr(b, "xmlns", c->decls[2 * i],
			    c->decls[2 * i + 1]);
	}
	ob_add(b, ">", 1);
	len = o.len;
	hdr = o.p;
	parser_start(c);
	c->depth = 0;		/* the replayed header opens depth 1 */
	c->priming = 1;
	if (XML_Parse(c->p, hdr, (int)len, XML_FALSE) != XML_STATUS_OK ||
	    c->depth != 1)
		fatalx("codec_xml: the saved stream header does not parse");
	c->priming = 0;
	c->fed = c->boundary = c->restart_at = (XML_Index)len;
	c->last_event = c->tok_start = (XML_Index)len;
	c->tok_state = TOK_TEXT;
	c->tok_quote = 0;
	if (o.p != o.stack)
		free(o.p);
}

/*
 * Between stanzas, with every byte parsed, the parser (about 10 KiB in
 * expat) is freed; parser_prime brings it back when bytes arrive.
 */
static void
parser_idle(struct xml_codec *c)
{
	if (c->p == NULL || c->depth != 1 || c->hdr == NULL ||
	    c->boundary != c->fed || c->failed || c->paused ||
	    c->want_restart)
		return;
	XML_ParserFree(c->p);
	c->p = NULL;
	free(c->text);
	c->text = NULL;
	c->textlen = c->textcap = 0;
}

/*
 * Expat switches to UTF-16 on a byte order mark or a "<\0" start even
 * when told the input is UTF-8, and RFC 6120 11.6 allows UTF-8 only.
 * None of 0x00, 0xfe, 0xff can be among the first two bytes of a UTF-8
 * stream; later, expat itself refuses them as invalid tokens.
 */
static int
check_encoding(struct xml_codec *c, const char *buf, size_t n)
{
	XML_Index	 i;
	unsigned char	 ch;

	for (i = c->fed; i < 2 && (size_t)(i - c->fed) < n; i++) {
		ch = (unsigned char)buf[i - c->fed];
		if (ch == 0x00 || ch == 0xfe || ch == 0xff) {
			fail(c, "unsupported-encoding", "byte 0x%02x at the "
			    "start of the stream: only UTF-8 is supported",
			    ch);
			return -1;
		}
	}
	return 0;
}

/*
 * Follows the bytes of the slice fed at start (n long) that expat has
 * not reported an event for, far enough to know whether they are inside
 * a start or end tag and whether such a tag ended.  In a well-formed
 * tag a quote only delimits an attribute value, so a '>' outside quotes
 * ends it.  1 if a tag ended.  When unsure, the state is TOK_TEXT,
 * which never defers.
 */
static int
tok_follow(struct xml_codec *c, const char *buf, XML_Index start, size_t n)
{
	XML_Index	 i;
	int		 ended = 0;
	char		 ch;

	if (c->last_event > c->tok_start) {
		c->tok_start = c->last_event;
		c->tok_state = TOK_TEXT;
		c->tok_quote = 0;
	}
	for (i = c->tok_start > start ? c->tok_start : start;
	    i < start + (XML_Index)n; i++) {
		ch = buf[i - start];
		switch (c->tok_state) {
		case TOK_TEXT:
			if (ch == '<')
				c->tok_state = TOK_LT;
			break;
		case TOK_LT:
			c->tok_state = ch == '!' || ch == '?' ? TOK_OTHER :
			    TOK_TAG;
			break;
		case TOK_TAG:
			if (c->tok_quote != 0) {
				if (ch == c->tok_quote)
					c->tok_quote = 0;
			} else if (ch == '\'' || ch == '"')
				c->tok_quote = ch;
			else if (ch == '>') {
				c->tok_state = TOK_TEXT;
				ended = 1;
			}
			break;
		case TOK_OTHER:
			break;
		}
	}
	return ended;
}

/*
 * Expat parses a token that is still incomplete again from its start on
 * every call, so a start tag growing to max_stanza_size in slices costs
 * its square (1.5 s of CPU for 4m, 25 s for 16m).  Inside a tag longer
 * than DEFER_AFTER, expat's reparse deferral lets it wait until the
 * token has doubled; once tok_follow sees the tag end, one more call
 * with deferral off parses it, so no stanza waits for more input.
 */
static enum XML_Status
parse_slice(struct xml_codec *c, const char *buf, XML_Index start,
    size_t n)
{
	enum XML_Status	 st;
	int		 defer = 0;

#ifdef HAVE_XML_SETREPARSEDEFERRALENABLED
	defer = c->tok_state == TOK_TAG &&
	    start - c->tok_start > DEFER_AFTER;
	XML_SetReparseDeferralEnabled(c->p, defer ? XML_TRUE : XML_FALSE);
#endif
	c->in_feed = 1;
	st = XML_Parse(c->p, buf, (int)n, XML_FALSE);
	c->in_feed = 0;
	if (st != XML_STATUS_OK || stopped(c))
		return st;
	if (tok_follow(c, buf, start, n) && defer) {
#ifdef HAVE_XML_SETREPARSEDEFERRALENABLED
		XML_SetReparseDeferralEnabled(c->p, XML_FALSE);
#endif
		c->in_feed = 1;
		st = XML_Parse(c->p, buf + n, 0, XML_FALSE);
		c->in_feed = 0;
		if (st == XML_STATUS_OK && !stopped(c))
			tok_follow(c, buf, start, n);
	}
	return st;
}

static long
feed_slice(struct xml_codec *c, const char *buf, size_t n)
{
	enum XML_Status	 st;
	XML_Index	 start;

	if (c->p == NULL && c->hdr != NULL && c->depth == 1)
		parser_prime(c);
	else if (c->p == NULL)
		parser_start(c);
	if (c->fed < 2 && check_encoding(c, buf, n) == -1)
		return -1;
	start = c->fed;
	c->fed += n;
	st = parse_slice(c, buf, start, n);
	if (c->failed)
		return -1;
	if (c->want_restart) {
		/* A new stream starts right after restart_at. */
		n = c->restart_at > start ? (size_t)(c->restart_at - start) : 0;
		if (c->paused) {
			stream_reset(c);
			return -1;
		}
		stream_reset(c);
		return (long)n;
	}
	if (c->paused)
		return -1;
	if (st == XML_STATUS_ERROR) {
		fail_expat(c);
		return -1;
	}
	if (check_size(c, c->fed) == -1)
		return -1;
	return (long)n;
}

static int
xml_feed(void *arg, const char *buf, size_t len)
{
	struct xml_codec	*c = arg;
	long			 n;

	while (!c->failed && !c->paused && len > 0) {
		n = feed_slice(c, buf, len < FEED_SLICE ? len : FEED_SLICE);
		if (n == -1)
			break;
		buf += n;
		len -= n;
	}
	if (c->failed) {
		/* Nothing more will be parsed: drop what was held for it. */
		if (c->p != NULL)
			XML_ParserFree(c->p);
		c->p = NULL;
		tree_clear(c);
		return -1;
	}
	parser_idle(c);
	return 0;
}

static void *
xml_create(const struct codec_cb *cb, void *arg, const char *content_ns,
    const struct tern_limits *lim)
{
	struct xml_codec	*c;

	c = xcalloc(1, sizeof(*c));
	c->cb = cb;
	c->arg = arg;
	c->content_ns = xstrdup(content_ns);
	c->lim = lim;
	return c;
}

static void
xml_destroy(void *arg)
{
	struct xml_codec	*c = arg;

	if (c == NULL)
		return;
	stream_reset(c);
	free(c->content_ns);
	free(c);
}

static void
xml_restart(void *arg)
{
	struct xml_codec	*c = arg;

	if (c->failed)
		return;
	if (!c->in_feed) {
		stream_reset(c);
		return;
	}
	if (c->want_restart)
		return;
	c->want_restart = 1;
	c->restart_at = event_end(c);
	XML_StopParser(c->p, XML_TRUE);
}

static void
xml_pause(void *arg)
{
	struct xml_codec	*c = arg;

	if (c->failed || c->paused)
		return;
	c->paused = 1;
	if (c->in_feed && !c->want_restart)
		XML_StopParser(c->p, XML_FALSE);
}

/* Escapes s: table[ch] is the entity for ch, or NULL. */
/*
 * Text and attribute values.  CR, and in attributes TAB and LF, are
 * written as character references: a parser would normalise them.
 */
static const char *const text_esc[256] = {
	['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;", ['\r'] = "&#13;",
};
static const char *const attr_esc[256] = {
	['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;", ['\''] = "&apos;",
	['"'] = "&quot;", ['\t'] = "&#9;", ['\n'] = "&#10;",
	['\r'] = "&#13;",
};

static void
put_attr(struct obuf *out, const char *pfx, const char *name,
    const char *value)
{
	ob_add(out, " ", 1);
	if (pfx != NULL) {
		ob_str(out, pfx);
		ob_add(out, ":", 1);
	}
	ob_str(out, name);
	ob_add(out, "='", 2);
	put_escaped(out, value, strlen(value), attr_esc);
	ob_add(out, "'", 1);
}

static int
ns_same(const char *a, const char *b)
{
	return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

/*
 * Attributes in namespaces other than xml: get a prefix declared on the
 * element itself: "ns" and the 1-based index of the first attribute in
 * the same namespace, so distinct namespaces never share one.  Plain
 * attributes named xmlns or xmlns:* (a builder's mistake; the parser
 * never makes them) are left out rather than clash with ours.
 */
static void
put_attrs(const struct stanza *st, struct obuf *out)
{
	const struct stanza_attr	*a;
	char				 pfx[32];
	size_t				 i, j;

	for (i = 0; i < st->nattrs; i++) {
		a = &st->attrs[i];
		if (a->ns == NULL || a->ns[0] == '\0') {
			/* Namespaces are the serializer's business. */
			if (strncmp(a->name, "xmlns", 5) == 0 &&
			    (a->name[5] == '\0' || a->name[5] == ':'))
				continue;
			put_attr(out, NULL, a->name, a->value);
			continue;
		}
		if (strcmp(a->ns, STANZA_NS_XML) == 0) {
			put_attr(out, "xml", a->name, a->value);
			continue;
		}
		for (j = 0; j < i; j++)
			if (st->attrs[j].ns != NULL &&
			    strcmp(st->attrs[j].ns, a->ns) == 0)
				break;
		snprintf(pfx, sizeof(pfx), "ns%zu", j + 1);
		if (j == i)
			put_attr(out, "xmlns", pfx, a->ns);
		put_attr(out, pfx, a->name, a->value);
	}
}

/*
 * dflt is the default namespace in scope.  Elements in the streams
 * namespace use the stream: prefix that the stream header declares and
 * leave the default namespace as it was.  Server Dialback elements are
 * written as db:, declared on the element itself: XEP-0220 spells them
 * so and some servers match the prefix, not the namespace.
 */
static void
put_element(const struct stanza *st, struct obuf *out, const char *dflt)
{
	const struct stanza_node	*n;
	const char			*pfx = "";
	size_t				 i;

	if (st->ns != NULL && strcmp(st->ns, STANZA_NS_STREAMS) == 0)
		pfx = "stream:";
	else if (st->ns != NULL && strcmp(st->ns, STANZA_NS_XML) == 0)
		pfx = "xml:";	/* predeclared; it may not be a default ns */
	else if (st->ns != NULL && strcmp(st->ns, NS_DIALBACK) == 0)
		pfx = "db:";
	ob_add(out, "<", 1);
	ob_str(out, pfx);
	ob_str(out, st->name);
	if (pfx[0] == 'd')
		put_attr(out, "xmlns", "db", NS_DIALBACK);
	if (pfx[0] == '\0' && !ns_same(st->ns, dflt)) {
		put_attr(out, NULL, "xmlns", st->ns != NULL ? st->ns : "");
		dflt = st->ns;
	}
	put_attrs(st, out);
	if (st->nkids == 0) {
		ob_add(out, "/>", 2);
		return;
	}
	ob_add(out, ">", 1);
	for (i = 0; i < st->nkids; i++) {
		n = &st->kids[i];
		if (n->el != NULL)
			put_element(n->el, out, dflt);
		else
			put_escaped(out, n->text, n->textlen, text_esc);
	}
	ob_add(out, "</", 2);
	ob_str(out, pfx);
	ob_str(out, st->name);
	ob_add(out, ">", 1);
}

void
codec_xml_serialize(const struct stanza *st, struct evbuffer *out,
    const char *parent_ns)
{
	struct obuf	o;

	o.p = o.stack;
	o.len = 0;
	o.cap = sizeof(o.stack);
	put_element(st, &o, parent_ns);
	evbuffer_add(out, o.p, o.len);
	if (o.p != o.stack)
		free(o.p);
}

/* Header attributes written, in this order. */
static const struct {
	const char	*ns;
	const char	*name;
	const char	*pfx;
} hdr_attrs[] = {
	{ NULL,			"from",		NULL },
	{ NULL,			"to",		NULL },
	{ NULL,			"id",		NULL },
	{ NULL,			"version",	NULL },
	/* s2s: XEP-0220 wants the dialback prefix on the header. */
	{ NULL,			"xmlns:db",	NULL },
	{ STANZA_NS_XML,	"lang",		"xml" },
};

static void
xml_write_header(void *arg, struct evbuffer *out, const struct stanza *hdr)
{
	struct xml_codec	*c = arg;
	const char		*v;
	size_t			 i;

	struct obuf		 o = { .p = o.stack, .cap = sizeof(o.stack) };

	ob_str(&o, "<?xml version='1.0'?><stream:stream");
	put_attr(&o, NULL, "xmlns", c->content_ns);
	put_attr(&o, "xmlns", "stream", STANZA_NS_STREAMS);
	for (i = 0; i < sizeof(hdr_attrs) / sizeof(hdr_attrs[0]); i++) {
		v = stanza_attr_ns(hdr, hdr_attrs[i].ns, hdr_attrs[i].name);
		if (v != NULL)
			put_attr(&o, hdr_attrs[i].pfx, hdr_attrs[i].name, v);
	}
	ob_add(&o, ">", 1);
	evbuffer_add(out, o.p, o.len);
	if (o.p != o.stack)
		free(o.p);
}

static void
xml_write_stanza(void *arg, struct evbuffer *out, const struct stanza *st)
{
	struct xml_codec	*c = arg;

	codec_xml_serialize(st, out, c->content_ns);
}

static void
xml_write_close(void *arg, struct evbuffer *out)
{
	evbuffer_add_printf(out, "</stream:stream>");
}

const struct codec_ops codec_xml = {
	.name = "xml",
	.create = xml_create,
	.destroy = xml_destroy,
	.feed = xml_feed,
	.restart = xml_restart,
	.pause = xml_pause,
	.write_header = xml_write_header,
	.write_stanza = xml_write_stanza,
	.write_close = xml_write_close,
};

struct parse_one {
	struct stanza	*st;
	int		 failed;
};

static void
one_open(void *arg, const struct stanza *hdr)
{
}

static void
one_stanza(void *arg, struct stanza *st)
{
	struct parse_one	*po = arg;

	if (po->st == NULL)
		po->st = stanza_ref(st);
}

static void
one_close(void *arg)
{
}

static void
one_error(void *arg, const char *cond, const char *text)
{
	((struct parse_one *)arg)->failed = 1;
}

struct stanza *
codec_xml_parse_one(const char *xml, size_t len)
{
	static const char	 hdr[] = "<stream:stream xmlns='jabber:client' "
				    "xmlns:stream='http://etherx.jabber.org/"
				    "streams' version='1.0'>";
	static const struct codec_cb cb = {
		one_open, one_stanza, one_close, one_error
	};
	struct tern_limits	 lim = { .stanza_size = len + sizeof(hdr) + 1,
				    .depth = 1024, .attrs = 4096 };
	struct parse_one	 po = { NULL, 0 };
	void			*c;

	c = xml_create(&cb, &po, STANZA_NS_CLIENT, &lim);
	if (xml_feed(c, hdr, sizeof(hdr) - 1) == -1 ||
	    xml_feed(c, xml, len) == -1)
		po.failed = 1;
	xml_destroy(c);
	if (po.failed && po.st != NULL) {
		stanza_unref(po.st);
		po.st = NULL;
	}
	return po.st;
}
