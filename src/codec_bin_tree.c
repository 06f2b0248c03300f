/*
 * One frame's tree in the binary encoding (doc/binary.md 6): the encoder
 * and the decoder, with the per-frame name and value tables.  Every
 * string a peer sends is checked (UTF-8, XML characters, NCNames) so
 * that any tree decoded here can be written as XML.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <expat.h>

#include "codec.h"
#include "codec_bin_int.h"
#include "conf.h"
#include "log.h"
#include "stanza.h"

struct span {
	const char	*p;
	size_t		 n;
};

struct enc {
	struct obuf		*b;
	const struct dict_index	*x;
	const char		*domain;
	size_t			 domainlen;
	const char		*names[CODEC_BIN_TABLE_MAX];
	struct span		 values[CODEC_BIN_TABLE_MAX];
	unsigned		 nnames, nvalues;
};

struct dec {
	const unsigned char		*p, *end;
	const struct codec_bin_dict	*d;
	const char			*content_ns;
	const char			*domain;
	const struct tern_limits	*lim;
	const struct dict_index		*x;	/* of d */
	struct span			 names[CODEC_BIN_TABLE_MAX];
	struct span			 values[CODEC_BIN_TABLE_MAX];
	unsigned			 nnames, nvalues;
	struct obuf			 tmp;
	const char			*cond;
	char				 text[160];
};

static int
dict_lookup(const struct dict_index *x, int l, const char *s, size_t n)
{
	return codec_bin_dict_lookup(x, l, s, n, codec_bin_hash(s, n));
}

/* A NUL-terminated copy of n bytes (no strnlen: n is known). */
static char *
dup_n(const char *p, size_t n)
{
	char	*s = xmalloc(n + 1);

	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* ---------------------------------------------------------------- */
/* Encoder */




static void
put_nameref(struct enc *e, int l, const char *s)
{
	size_t		 n = strlen(s);
	unsigned	 i;
	int		 t;

	if ((t = dict_lookup(e->x, l, s, n)) != -1 &&
	    !(l == BIN_ATTR && t <= ATTR_LANGTOK)) {
		ob_varint(e->b, (uint64_t)t + 1);
		return;
	}
	for (i = 0; i < e->nnames; i++)
		if (strcmp(e->names[i], s) == 0) {
			ob_varint(e->b, e->x->d->lists[l].n + 1 + i);
			return;
		}
	ob_varint(e->b, 0);
	ob_varint(e->b, n);
	ob_add(e->b, s, n);
	if (e->nnames < CODEC_BIN_TABLE_MAX)
		e->names[e->nnames++] = s;
}

static int
is_decimal(const char *s, size_t n)
{
	size_t	i;

	if (n == 0 || n > 19 || (s[0] == '0' && n > 1))
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int
is_hex(const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (hexval((unsigned char)s[i]) == -1)
			return 0;
	return 1;
}

static int
is_uuid(const char *s, size_t n)
{
	size_t	i;

	if (n != 36)
		return 0;
	for (i = 0; i < n; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (hexval((unsigned char)s[i]) == -1)
			return 0;
	}
	return 1;
}

static void
put_hexbytes(struct obuf *b, const char *s, size_t n)
{
	size_t	i;

	ob_need(b, n / 2);
	for (i = 0; i + 1 < n; i += 2) {
		if (s[i] == '-')
			i++;
		b->p[b->n++] = (unsigned char)(hexval((unsigned char)s[i]) <<
		    4 | hexval((unsigned char)s[i + 1]));
	}
}

/*
 * The encoder's index of the frame's value table: slots stamped with the
 * frame's generation, so that a new frame needs no clearing.  The table
 * holds at most CODEC_BIN_TABLE_MAX values; the index is 4 times larger.
 */
#define VT_SLOTS	1024
#define VT_NONE		0xffffu

static struct {
	uint32_t	gen;
	uint32_t	hash;
	unsigned	idx;
} vt[VT_SLOTS];
static uint32_t	vt_gen;

static unsigned
vt_find(const struct enc *e, const char *s, size_t n, uint32_t hv)
{
	size_t	h = hv & (VT_SLOTS - 1);

	for (; vt[h].gen == vt_gen; h = (h + 1) & (VT_SLOTS - 1))
		if (vt[h].hash == hv && e->values[vt[h].idx].n == n &&
		    memcmp(e->values[vt[h].idx].p, s, n) == 0)
			return vt[h].idx;
	return VT_NONE;
}

static void
vt_add(struct enc *e, const char *s, size_t n)
{
	size_t	h = codec_bin_hash(s, n) & (VT_SLOTS - 1);

	if (e->nvalues == CODEC_BIN_TABLE_MAX)
		return;
	while (vt[h].gen == vt_gen)
		h = (h + 1) & (VT_SLOTS - 1);
	vt[h].gen = vt_gen;
	vt[h].hash = codec_bin_hash(s, n);
	vt[h].idx = e->nvalues;
	e->values[e->nvalues].p = s;
	e->values[e->nvalues++].n = n;
}

/*
 * A value already known: a VALUE token, the stream domain, a namespace
 * token (nsvalue), or an equal STR earlier in the frame.  1 if written.
 */
static int
put_known(struct enc *e, const char *s, size_t n, int nsvalue)
{
	uint32_t	hv = codec_bin_hash(s, n);
	unsigned	i;
	int		t;

	if ((t = codec_bin_dict_lookup(e->x, BIN_VALUE, s, n, hv)) > 0) {
		ob_varint(e->b, (uint64_t)t << 2 | V_DICT);
		return 1;
	}
	if (e->domain != NULL && e->domainlen == n &&
	    memcmp(e->domain, s, n) == 0) {
		ob_varint(e->b, V_DICT);
		return 1;
	}
	if (nsvalue &&
	    (t = codec_bin_dict_lookup(e->x, BIN_NS, s, n, hv)) > 0) {
		ob_varint(e->b, T_NSVALUE << 2 | V_TYPED);
		ob_varint(e->b, (uint64_t)t);
		return 1;
	}
	if ((i = vt_find(e, s, n, hv)) != VT_NONE) {
		ob_varint(e->b, (uint64_t)i << 2 | V_REF);
		return 1;
	}
	return 0;
}

/* A JID part or a value no other form fits: known, else STR. */
static void
put_plain(struct enc *e, const char *s, size_t n)
{
	if (put_known(e, s, n, 0))
		return;
	ob_varint(e->b, (uint64_t)n << 2 | V_STR);
	ob_add(e->b, s, n);
	vt_add(e, s, n);
}

/* Splits "node@domain/resource" for the JID form; 0 if it does not fit. */
static int
put_jid(struct enc *e, const char *v)
{
	const char	*slash = strchr(v, '/'), *at, *dom = v;
	size_t		 dlen;
	unsigned char	 flags = 0;

	at = memchr(v, '@', slash != NULL ? (size_t)(slash - v) : strlen(v));
	if (at == NULL && slash == NULL)
		return 0;
	if (at != NULL) {
		flags |= 1;
		dom = at + 1;
	}
	if (slash != NULL)
		flags |= 2;
	dlen = slash != NULL ? (size_t)(slash - dom) : strlen(dom);
	ob_varint(e->b, T_JID << 2 | V_TYPED);
	ob_byte(e->b, flags);
	if (at != NULL)
		put_plain(e, v, (size_t)(at - v));
	put_plain(e, dom, dlen);
	if (slash != NULL)
		put_plain(e, slash + 1, strlen(slash + 1));
	return 1;
}

static int
jid_attr(const struct stanza_attr *a)
{
	const char	*n = a->name;

	if (a->ns != NULL && a->ns[0] != '\0')
		return 0;
	switch (n[0]) {
	case 't':
		return strcmp(n, "to") == 0;
	case 'f':
		return strcmp(n, "from") == 0;
	case 'j':
		return strcmp(n, "jid") == 0;
	case 'b':
		return strcmp(n, "by") == 0;
	}
	return 0;
}

static void
put_value(struct enc *e, const struct stanza_attr *a)
{
	const char	*v = a->value;
	size_t		 n = strlen(v);
	uint64_t	 dec;

	if (put_known(e, v, n, 1))
		return;
	if (is_uuid(v, n)) {
		ob_varint(e->b, T_UUID << 2 | V_TYPED);
		put_hexbytes(e->b, v, n);
	} else if (is_decimal(v, n)) {
		dec = strtoull(v, NULL, 10);
		ob_varint(e->b, T_DECIMAL << 2 | V_TYPED);
		ob_varint(e->b, dec);
	} else if (n >= 8 && n <= 2 * HEX_MAX && n % 2 == 0 &&
	    is_hex(v, n)) {
		ob_varint(e->b, T_HEX << 2 | V_TYPED);
		ob_varint(e->b, n / 2);
		put_hexbytes(e->b, v, n);
	} else if (!jid_attr(a) || !put_jid(e, v))
		put_plain(e, v, n);
}

static int
attr_skipped(const struct stanza_attr *a)
{
	/* As codec_xml_serialize: namespace declarations are ours. */
	return (a->ns == NULL || a->ns[0] == '\0') && a->name[0] == 'x' &&
	    strncmp(a->name, "xmlns", 5) == 0 &&
	    (a->name[5] == '\0' || a->name[5] == ':');
}

static void
put_attrs(struct enc *e, const struct stanza *st, size_t n)
{
	const struct stanza_attr	*a;
	size_t				 i;

	ob_varint(e->b, n);
	for (i = 0; i < st->nattrs; i++) {
		a = &st->attrs[i];
		if (attr_skipped(a))
			continue;
		if (a->ns == NULL || a->ns[0] == '\0')
			put_nameref(e, BIN_ATTR, a->name);
		else if (strcmp(a->ns, STANZA_NS_XML) == 0 &&
		    strcmp(a->name, "lang") == 0)
			ob_varint(e->b, ATTR_LANGTOK + 1);
		else {
			ob_varint(e->b, ATTR_NSTOK + 1);
			put_nameref(e, BIN_NS, a->ns);
			put_nameref(e, BIN_ATTR, a->name);
		}
		put_value(e, a);
	}
}

static int
ns_same(const char *a, const char *b)
{
	if (a == b)
		return 1;
	return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

static void
put_element(struct enc *e, const struct stanza *st, const char *parent_ns)
{
	const struct stanza_node	*k;
	size_t				 i, nattrs = 0, nkids = 0;
	unsigned char			 tag = 0;
	int				 t;

	for (i = 0; i < st->nattrs; i++)
		if (!attr_skipped(&st->attrs[i]))
			nattrs++;
	for (i = 0; i < st->nkids; i++)
		if (st->kids[i].el != NULL || st->kids[i].textlen > 0)
			nkids++;
	t = dict_lookup(e->x, BIN_ELEMENT, st->name, strlen(st->name));
	if (!ns_same(st->ns, parent_ns))
		tag |= 2;
	if (nattrs > 0)
		tag |= 4;
	if (nkids > 0)
		tag |= 8;
	if (t != -1 && t < SHORT_NAMES)
		tag |= (unsigned char)((t + 1) << 4);
	ob_byte(e->b, tag);
	if (tag & 2)
		put_nameref(e, BIN_NS, st->ns != NULL ? st->ns : "");
	if ((tag >> 4) == 0)
		put_nameref(e, BIN_ELEMENT, st->name);
	if (nattrs > 0)
		put_attrs(e, st, nattrs);
	if (nkids == 0)
		return;
	ob_varint(e->b, nkids);
	for (i = 0; i < st->nkids; i++) {
		k = &st->kids[i];
		if (k->el != NULL)
			put_element(e, k->el, st->ns);
		else if (k->textlen > 0) {
			ob_varint(e->b, (uint64_t)k->textlen << 1 | 1);
			ob_add(e->b, k->text, k->textlen);
		}
	}
}

/*
 * One scratch buffer for every frame written: the process has one
 * thread and encoding never re-enters.  Large ones are not kept.
 */
static struct obuf	scratch;

/*
 * The body sits in b after FRAME_HDR_MAX bytes kept free (enc_init);
 * the header goes right before it, and one evbuffer_add writes both.
 */
static void
frame_out(struct evbuffer *out, int type, struct obuf *b)
{
	unsigned char	hdr[FRAME_HDR_MAX];
	size_t		n, body = b->n - FRAME_HDR_MAX;

	hdr[0] = (unsigned char)type;
	n = 1 + varint_put(hdr + 1, body);
	memcpy(b->p + FRAME_HDR_MAX - n, hdr, n);
	evbuffer_add(out, b->p + FRAME_HDR_MAX - n, n + body);
	if (b->cap > 65536) {
		free(b->p);
		b->p = NULL;
		b->cap = 0;
	}
	b->n = 0;
}

/* The tables are not cleared: nnames and nvalues bound what is read. */
static void
enc_init(struct enc *e, const char *domain)
{
	e->b = &scratch;
	e->x = codec_bin_dict_index(codec_bin_dict_current());
	e->domain = domain;
	e->domainlen = domain != NULL ? strlen(domain) : 0;
	e->nnames = e->nvalues = 0;
	if (++vt_gen == 0) {		/* wrapped: stamps may be stale */
		memset(vt, 0, sizeof(vt));
		vt_gen = 1;
	}
	scratch.n = 0;
	ob_need(&scratch, FRAME_HDR_MAX);
	scratch.n = FRAME_HDR_MAX;
}

void
codec_bin_write_header(struct evbuffer *out, const struct stanza *hdr,
    const char *content_ns)
{
	struct enc	e;

	enc_init(&e, NULL);
	ob_byte(e.b, 0);
	ob_varint(e.b, e.x->d->version);
	ob_add(e.b, e.x->hash, 8);
	put_nameref(&e, BIN_NS, content_ns);
	put_element(&e, hdr, content_ns);
	frame_out(out, BIN_HEADER, e.b);
}

void
codec_bin_write_frame(struct evbuffer *out, int type,
    const struct stanza *st, const char *content_ns, const char *domain)
{
	struct enc	e;

	enc_init(&e, domain);
	put_element(&e, st, content_ns);
	frame_out(out, type, &scratch);
}

/* ---------------------------------------------------------------- */
/* Decoder: strings */

/* The next code point of s (n > 0 bytes), or -1; *len its bytes. */
static long
utf8_next(const unsigned char *s, size_t n, size_t *len)
{
	long	c;
	size_t	need, i;

	if (s[0] < 0x80) {
		*len = 1;
		return s[0];
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 1;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 2;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 3;
		c = s[0] & 0x07;
	} else
		return -1;
	if (n < need + 1)
		return -1;
	for (i = 1; i <= need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((need == 2 && c < 0x800) || (need == 3 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return -1;
	*len = need + 1;
	return c;
}

static int
xml_char(long c)
{
	return c == 0x9 || c == 0xa || c == 0xd || (c >= 0x20 &&
	    c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) || c >= 0x10000;
}

/* UTF-8 holding XML 1.0 characters only; 1 if so. */
static int
text_ok(const unsigned char *s, size_t n)
{
	size_t	i = 0, l;
	long	c;

	while (i < n) {
		if (s[i] >= 0x20 && s[i] < 0x80) {
			i++;
			continue;
		}
		if ((c = utf8_next(s + i, n - i, &l)) == -1 || !xml_char(c))
			return 0;
		i += l;
	}
	return 1;
}

/*
 * NCNames.  ASCII names are checked here; a name with other characters
 * is put to expat, whose name rules are the ones an XML peer applies.
 */
static int
name_ok(const unsigned char *s, size_t n)
{
	static XML_Parser	 p;
	char			 buf[600];
	size_t			 i;
	int			 ok, ascii = 1;

	if (n == 0 || !text_ok(s, n))
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] >= 0x80) {
			ascii = 0;
			continue;
		}
		if ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || s[i] == '_')
			continue;
		if (i > 0 && ((s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		    s[i] == '.'))
			continue;
		return 0;
	}
	if (ascii)
		return 1;
	if (n > sizeof(buf) - 4)
		return 0;
	buf[0] = '<';
	memcpy(buf + 1, s, n);
	memcpy(buf + 1 + n, "/>", 2);
	if (p == NULL && (p = XML_ParserCreateNS("UTF-8", '\xff')) == NULL)
		fatalx("codec_bin: XML_ParserCreateNS: out of memory");
	ok = XML_Parse(p, buf, (int)n + 3, XML_TRUE) == XML_STATUS_OK;
	XML_ParserReset(p, "UTF-8");
	return ok;
}

/* ---------------------------------------------------------------- */
/* Decoder: trees */


static int
derr(struct dec *d, const char *cond, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
derr(struct dec *d, const char *cond, const char *fmt, ...)
{
	va_list	ap;

	if (d->cond != NULL)
		return -1;
	d->cond = cond;
	va_start(ap, fmt);
	vsnprintf(d->text, sizeof(d->text), fmt, ap);
	va_end(ap);
	return -1;
}

#define MALFORMED(d, ...)	derr((d), "bad-format", __VA_ARGS__)

/*
 * An unsigned LEB128 of at most maxb bytes (5: 32 bits, 10: 64 bits),
 * in its shortest form.
 */
static int
get_varint(struct dec *d, uint64_t *v, int maxb)
{
	uint64_t	x = 0;
	int		i;
	unsigned char	b;

	for (i = 0;; i++) {
		if (d->p == d->end)
			return MALFORMED(d, "truncated varint");
		if (i == maxb)
			return MALFORMED(d, "varint longer than %d bytes",
			    maxb);
		b = *d->p++;
		if ((maxb == 5 && i == 4 && b > 0x0f) ||
		    (i == 9 && b > 0x01))
			return MALFORMED(d, "varint overflows");
		x |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			if (b == 0 && i > 0)
				return MALFORMED(d, "overlong varint");
			break;
		}
	}
	*v = x;
	return 0;
}

static int
get_count(struct dec *d, uint64_t *v, const char *what)
{
	if (get_varint(d, v, 5) == -1)
		return -1;
	if (*v > (uint64_t)(d->end - d->p))
		return MALFORMED(d, "%s count %llu larger than the frame",
		    what, (unsigned long long)*v);
	return 0;
}

static int
get_bytes(struct dec *d, size_t n, struct span *s)
{
	if (n > (size_t)(d->end - d->p))
		return MALFORMED(d, "string runs past the end of the frame");
	s->p = (const char *)d->p;
	s->n = n;
	d->p += n;
	return 0;
}

static int
get_byte(struct dec *d, unsigned char *c)
{
	if (d->p == d->end)
		return MALFORMED(d, "frame ends inside an item");
	*c = *d->p++;
	return 0;
}

static const char *const list_names[BIN_NLISTS] = {
	"namespace", "element", "attribute", "value",
};

/* *tok: the dictionary token or -1 for a literal or table name in *s. */
static int
get_nameref(struct dec *d, int l, int *tok, struct span *s)
{
	uint64_t	n, lim = d->d->lists[l].n;

	if (get_varint(d, &n, 5) == -1)
		return -1;
	*tok = -1;
	if (n >= 1 && n <= lim) {
		*tok = (int)(n - 1);
		s->p = d->d->lists[l].s[n - 1];
		s->n = d->x->lens[l][n - 1];
		return 0;
	}
	if (n > lim) {
		if (n - lim - 1 >= d->nnames)
			return MALFORMED(d, "%s name table entry %llu not "
			    "defined", list_names[l],
			    (unsigned long long)(n - lim - 1));
		*s = d->names[n - lim - 1];
		return 0;
	}
	if (get_varint(d, &n, 5) == -1 || get_bytes(d, n, s) == -1)
		return -1;
	if (d->nnames < CODEC_BIN_TABLE_MAX)
		d->names[d->nnames++] = *s;
	return 0;
}

/* A namespace: NULL for token 0 (no namespace), else a new string. */
static int
get_ns(struct dec *d, char **ns)
{
	struct span	s;
	int		t;

	*ns = NULL;
	if (get_nameref(d, BIN_NS, &t, &s) == -1)
		return -1;
	if (t == 0)
		return 0;
	if (s.n == 0)
		return MALFORMED(d, "empty namespace literal");
	if (!text_ok((const unsigned char *)s.p, s.n))
		return MALFORMED(d, "namespace is not UTF-8 XML text");
	if (s.n == sizeof(NS_XMLNS) - 1 && memcmp(s.p, NS_XMLNS, s.n) == 0)
		return MALFORMED(d, "the xmlns namespace is reserved");
	*ns = dup_n(s.p, s.n);
	return 0;
}

static int
get_name(struct dec *d, int l, int *tok, char **name)
{
	struct span	s;

	if (get_nameref(d, l, tok, &s) == -1)
		return -1;
	if (*tok == -1 && !name_ok((const unsigned char *)s.p, s.n))
		return MALFORMED(d, "%s name is not an XML NCName",
		    list_names[l]);
	*name = dup_n(s.p, s.n);
	return 0;
}

static void
tmp_add(struct dec *d, const char *p, size_t n)
{
	ob_add(&d->tmp, p, n);
}

/* One plain value (STR, REF, DICT) appended to d->tmp. */
static int
get_plain(struct dec *d, uint64_t v)
{
	struct span	s;
	const char	*str;

	switch (v & 3) {
	case V_STR:
		if (get_bytes(d, v >> 2, &s) == -1)
			return -1;
		if (!text_ok((const unsigned char *)s.p, s.n))
			return MALFORMED(d, "value is not UTF-8 XML text");
		if (d->nvalues < CODEC_BIN_TABLE_MAX)
			d->values[d->nvalues++] = s;
		tmp_add(d, s.p, s.n);
		return 0;
	case V_REF:
		if ((v >> 2) >= d->nvalues)
			return MALFORMED(d, "value table entry %llu not "
			    "defined", (unsigned long long)(v >> 2));
		s = d->values[v >> 2];
		tmp_add(d, s.p, s.n);
		return 0;
	case V_DICT:
		if ((v >> 2) >= d->d->lists[BIN_VALUE].n)
			return MALFORMED(d, "value token %llu out of range",
			    (unsigned long long)(v >> 2));
		if ((v >> 2) == 0 && d->domain == NULL)
			return MALFORMED(d, "stream domain used but not "
			    "known");
		str = (v >> 2) == 0 ? d->domain :
		    d->d->lists[BIN_VALUE].s[v >> 2];
		tmp_add(d, str, strlen(str));
		return 0;
	}
	return MALFORMED(d, "typed value inside a JID");
}

static int
get_jid(struct dec *d)
{
	unsigned char	flags = 0;
	uint64_t	v;
	int		i;

	if (get_byte(d, &flags) == -1)
		return -1;
	if (flags & ~3)
		return MALFORMED(d, "unknown JID flags 0x%02x", flags);
	for (i = 0; i < 3; i++) {
		if ((i == 0 && !(flags & 1)) || (i == 2 && !(flags & 2)))
			continue;
		if (i == 1 && (flags & 1))
			tmp_add(d, "@", 1);
		if (i == 2)
			tmp_add(d, "/", 1);
		if (get_varint(d, &v, 10) == -1 || get_plain(d, v) == -1)
			return -1;
	}
	return 0;
}

static int
get_hexval(struct dec *d, size_t n, int uuid)
{
	static const char	 digits[] = "0123456789abcdef";
	struct span		 s = { NULL, 0 };
	size_t			 i;

	char			*o;

	if (get_bytes(d, n, &s) == -1)
		return -1;
	ob_need(&d->tmp, 2 * n + 4);
	o = (char *)d->tmp.p + d->tmp.n;
	for (i = 0; i < n; i++) {
		if (uuid && (i == 4 || i == 6 || i == 8 || i == 10))
			*o++ = '-';
		*o++ = digits[(unsigned char)s.p[i] >> 4];
		*o++ = digits[(unsigned char)s.p[i] & 15];
	}
	d->tmp.n = (size_t)(o - (char *)d->tmp.p);
	return 0;
}

static int
get_typed(struct dec *d, uint64_t type)
{
	char		num[24];
	uint64_t	v;

	switch (type) {
	case T_JID:
		return get_jid(d);
	case T_HEX:
		if (get_varint(d, &v, 5) == -1)
			return -1;
		if (v == 0 || v > HEX_MAX)
			return MALFORMED(d, "hex value of %llu bytes",
			    (unsigned long long)v);
		return get_hexval(d, v, 0);
	case T_UUID:
		return get_hexval(d, 16, 1);
	case T_DECIMAL:
		if (get_varint(d, &v, 10) == -1)
			return -1;
		snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
		tmp_add(d, num, strlen(num));
		return 0;
	case T_NSVALUE:
		if (get_varint(d, &v, 5) == -1)
			return -1;
		if (v == 0 || v >= d->d->lists[BIN_NS].n)
			return MALFORMED(d, "namespace value token %llu out "
			    "of range", (unsigned long long)v);
		tmp_add(d, d->d->lists[BIN_NS].s[v],
		    strlen(d->d->lists[BIN_NS].s[v]));
		return 0;
	}
	return MALFORMED(d, "unknown value type %llu",
	    (unsigned long long)type);
}

static int
get_value(struct dec *d, char **out)
{
	uint64_t	v;

	struct span	s;

	d->tmp.n = 0;
	if (get_varint(d, &v, 10) == -1)
		return -1;
	if ((v & 3) == V_STR) {
		/* The common case, without the copy through tmp. */
		if (get_bytes(d, v >> 2, &s) == -1)
			return -1;
		if (!text_ok((const unsigned char *)s.p, s.n))
			return MALFORMED(d, "value is not UTF-8 XML text");
		if (d->nvalues < CODEC_BIN_TABLE_MAX)
			d->values[d->nvalues++] = s;
		*out = dup_n(s.n > 0 ? s.p : "", s.n);
		return 0;
	}
	if ((v & 3) == V_TYPED) {
		if (get_typed(d, v >> 2) == -1)
			return -1;
	} else if (get_plain(d, v) == -1)
		return -1;
	*out = dup_n(d->tmp.n > 0 ? (const char *)d->tmp.p : "",
	    d->tmp.n);
	return 0;
}

static int
get_attr(struct dec *d, struct stanza *el, struct stanza_attr *a)
{
	size_t	i;
	int	tok;

	if (get_name(d, BIN_ATTR, &tok, &a->name) == -1)
		return -1;
	if (tok == ATTR_LANGTOK) {
		free(a->name);
		a->name = xstrdup("lang");
		a->ns = xstrdup(STANZA_NS_XML);
	} else if (tok == ATTR_NSTOK) {
		free(a->name);
		a->name = NULL;
		if (get_ns(d, &a->ns) == -1)
			return -1;
		if (a->ns == NULL)
			return MALFORMED(d, "namespaced attribute without "
			    "namespace");
		if (get_name(d, BIN_ATTR, &tok, &a->name) == -1)
			return -1;
		if (tok == ATTR_NSTOK || tok == ATTR_LANGTOK)
			return MALFORMED(d, "bad namespaced attribute name");
	} else if (strcmp(a->name, "xmlns") == 0)
		return MALFORMED(d, "attribute named xmlns");
	for (i = 0; i < el->nattrs; i++)
		if (el->attrs[i].name[0] == a->name[0] &&
		    strcmp(el->attrs[i].name, a->name) == 0 &&
		    ns_same(el->attrs[i].ns, a->ns))
			return MALFORMED(d, "duplicate attribute %.64s",
			    a->name);
	return get_value(d, &a->value);
}

static int
get_attrs(struct dec *d, struct stanza *el)
{
	struct stanza_attr	*a;
	uint64_t		 n;

	if (get_count(d, &n, "attribute") == -1)
		return -1;
	if (n == 0)
		return MALFORMED(d, "attribute flag with no attributes");
	if (n > d->lim->attrs)
		return derr(d, "policy-violation", "more than max_attrs (%u) "
		    "attributes on one element", d->lim->attrs);
	el->attrs = xcalloc(n, sizeof(*el->attrs));
	el->attrcap = n;
	while (el->nattrs < n) {
		a = &el->attrs[el->nattrs];
		if (get_attr(d, el, a) == -1) {
			/* Keep what was built so that unref frees it. */
			if (a->name == NULL)
				a->name = xstrdup("");
			if (a->value == NULL)
				a->value = xstrdup("");
			el->nattrs++;
			return -1;
		}
		el->nattrs++;
	}
	return 0;
}

static struct stanza	*get_element(struct dec *, const char *, unsigned);

static int
get_kids(struct dec *d, struct stanza *el, unsigned depth)
{
	struct stanza_node	*k;
	uint64_t		 n, v;
	struct span		 s = { NULL, 0 };

	if (get_count(d, &n, "child") == -1)
		return -1;
	if (n == 0)
		return MALFORMED(d, "children flag with no children");
	el->kids = xcalloc(n, sizeof(*el->kids));
	el->kidcap = n;
	while (el->nkids < n) {
		k = &el->kids[el->nkids];
		if (d->p < d->end && !(*d->p & 1)) {
			if ((k->el = get_element(d, el->ns, depth + 1)) ==
			    NULL)
				return -1;
			el->nkids++;
			continue;
		}
		if (get_varint(d, &v, 5) == -1 ||
		    get_bytes(d, v >> 1, &s) == -1)
			return -1;
		if (s.n == 0)
			return MALFORMED(d, "empty text");
		if (el->nkids > 0 && el->kids[el->nkids - 1].el == NULL)
			return MALFORMED(d, "two texts in a row");
		if (!text_ok((const unsigned char *)s.p, s.n))
			return MALFORMED(d, "text is not UTF-8 XML text");
		k->text = dup_n(s.p, s.n);
		k->textlen = s.n;
		el->nkids++;
	}
	return 0;
}

/* An element at nesting depth (the top-level one is 1), or NULL. */
static struct stanza *
get_element(struct dec *d, const char *parent_ns, unsigned depth)
{
	struct stanza	*el;
	unsigned char	 tag = 0;
	char		*ns = NULL;
	int		 tok;

	if (depth > d->lim->depth) {
		derr(d, "policy-violation", "elements nested deeper than "
		    "max_depth (%u)", d->lim->depth);
		return NULL;
	}
	if (get_byte(d, &tag) == -1)
		return NULL;
	if (tag & 1) {
		MALFORMED(d, "text where an element was expected");
		return NULL;
	}
	if ((tag & 2) && get_ns(d, &ns) == -1)
		return NULL;
	el = xcalloc(1, sizeof(*el));
	el->refs = 1;
	el->ns = (tag & 2) ? ns : parent_ns != NULL ? xstrdup(parent_ns) :
	    NULL;
	if ((tag >> 4) != 0)
		el->name = xstrdup(d->d->lists[BIN_ELEMENT].s[(tag >> 4) - 1]);
	else if (get_name(d, BIN_ELEMENT, &tok, &el->name) == -1) {
		el->name = xstrdup("");
		stanza_unref(el);
		return NULL;
	}
	if (((tag & 4) && get_attrs(d, el) == -1) ||
	    ((tag & 8) && get_kids(d, el, depth) == -1)) {
		stanza_unref(el);
		return NULL;
	}
	return el;
}

static struct stanza *
decode_tree(struct dec *d)
{
	struct stanza	*st;

	st = get_element(d, d->content_ns, 1);
	if (st != NULL && d->p != d->end) {
		MALFORMED(d, "%zu bytes left over after the element",
		    (size_t)(d->end - d->p));
		stanza_unref(st);
		st = NULL;
	}
	free(d->tmp.p);
	d->tmp.p = NULL;
	return st;
}

/* The tables are not cleared: nnames and nvalues bound what is read. */
static void
dec_init(struct dec *d, const void *body, size_t len,
    const struct codec_bin_dict *dict, const char *content_ns,
    const char *domain, const struct tern_limits *lim)
{
	d->p = body;
	d->end = (const unsigned char *)body + len;
	d->d = dict;
	d->x = dict != NULL ? codec_bin_dict_index(dict) : NULL;
	d->content_ns = content_ns;
	d->domain = domain;
	d->lim = lim;
	d->nnames = d->nvalues = 0;
	d->tmp.p = NULL;
	d->tmp.n = d->tmp.cap = 0;
	d->cond = NULL;
	d->text[0] = '\0';
}

struct stanza *
codec_bin_read_header(const void *body, size_t len, const char *content_ns,
    const struct tern_limits *lim, const struct codec_bin_dict **dict,
    const char **cond, char *text, size_t textlen)
{
	struct dec	 d;
	struct stanza	*hdr;
	struct span	 hash = { NULL, 0 }, ns = { NULL, 0 };
	unsigned char	 fmt = 0, want[32];
	uint64_t	 ver;
	int		 tok;

	dec_init(&d, body, len, NULL, content_ns, NULL, lim);
	*cond = "unsupported-version";
	if (get_byte(&d, &fmt) == -1 || get_varint(&d, &ver, 5) == -1 ||
	    get_bytes(&d, 8, &hash) == -1)
		goto bad;
	if (fmt != 0) {
		snprintf(text, textlen, "binary format %u is not supported "
		    "(0 is)", fmt);
		return NULL;
	}
	if ((d.d = codec_bin_dict_find(ver, NULL)) != NULL) {
		codec_bin_dict_hash(d.d, want);
		d.x = codec_bin_dict_index(d.d);
	}
	if (d.d == NULL || memcmp(want, hash.p, 8) != 0) {
		snprintf(text, textlen, "dictionary %llu with this hash is "
		    "not known here", (unsigned long long)ver);
		return NULL;
	}
	if (get_nameref(&d, BIN_NS, &tok, &ns) == -1)
		goto bad;
	*cond = "invalid-namespace";
	if (strlen(content_ns) != ns.n || memcmp(ns.p, content_ns, ns.n) !=
	    0) {
		snprintf(text, textlen, "content namespace of the stream is "
		    "not %s", content_ns);
		return NULL;
	}
	if ((hdr = decode_tree(&d)) == NULL)
		goto bad;
	if (hdr->ns == NULL || strcmp(hdr->ns, STANZA_NS_STREAMS) != 0 ||
	    strcmp(hdr->name, "stream") != 0 || hdr->nkids != 0) {
		stanza_unref(hdr);
		snprintf(text, textlen, "the header element is not an empty "
		    "{" STANZA_NS_STREAMS "}stream");
		return NULL;
	}
	*dict = d.d;
	return hdr;
 bad:
	free(d.tmp.p);
	*cond = d.cond;
	snprintf(text, textlen, "stream header: %s", d.text);
	return NULL;
}

struct stanza *
codec_bin_read_tree(const void *body, size_t len,
    const struct codec_bin_dict *dict, const char *content_ns,
    const char *domain, const struct tern_limits *lim, const char **cond,
    char *text, size_t textlen)
{
	struct dec	 d;
	struct stanza	*st;

	dec_init(&d, body, len, dict, content_ns, domain, lim);
	if ((st = decode_tree(&d)) == NULL) {
		*cond = d.cond;
		snprintf(text, textlen, "%s", d.text);
	}
	return st;
}

struct stanza *
codec_bin_read_body(const void *body, size_t len, const char *content_ns,
    const char *domain, const struct tern_limits *lim, const char **cond,
    char *text, size_t textlen)
{
	return codec_bin_read_tree(body, len, codec_bin_dict_current(),
	    content_ns, domain, lim, cond, text, textlen);
}

