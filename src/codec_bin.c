/*
 * The binary codec (doc/binary.md): length-prefixed frames, each holding
 * one element tree with names and common values as dictionary tokens.
 * Nothing survives a frame but the stream domain from the header, so a
 * frame decodes on its own (no compression history, doc/binary.md 8).
 *
 * Ownership: the codec owns the bytes of an incomplete frame (at most
 * max_stanza_size plus the frame header) and nothing else between
 * frames; a frame complete in the bytes fed is decoded in place.  A
 * decoded tree is lent to cb->stanza and released when it returns.
 * Every string a peer sends is checked (UTF-8, XML characters, NCNames)
 * so that any tree decoded here can be written as XML.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <expat.h>
#include <openssl/evp.h>

#include "codec.h"
#include "codec_bin.h"
#include "conf.h"
#include "log.h"
#include "stanza.h"
#include "xmalloc.h"

#define NS_XMLNS	"http://www.w3.org/2000/xmlns/"
#define FRAME_HDR_MAX	6	/* type byte and a 5-byte length */
#define SHORT_NAMES	15	/* ELEMENT tokens in the tag byte */
#define HEX_MAX		64	/* bytes of a HEX value */
#define ATTR_NSTOK	0	/* ATTR token: namespaced attribute */
#define ATTR_LANGTOK	1	/* ATTR token: xml:lang */

enum value_kind { V_STR = 0, V_REF, V_DICT, V_TYPED };
enum value_type { T_JID = 0, T_HEX, T_UUID, T_DECIMAL, T_NSVALUE };

/* ---------------------------------------------------------------- */
/* Dictionary */

struct dict_index {
	const struct codec_bin_dict	*d;
	int				*slots[BIN_NLISTS];	/* token+1 */
	size_t				 mask[BIN_NLISTS];
	unsigned char			 hash[32];
	char				 hex[CODEC_BIN_HASH_HEX];
};

static struct dict_index	*indexes;

static uint32_t
fnv(const char *s, size_t n)
{
	uint32_t	h = 2166136261u;

	while (n-- > 0)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

static void
dict_hash(const struct codec_bin_dict *d, unsigned char out[32])
{
	static const char *const heads[BIN_NLISTS] = {
		"[ns]\n", "[element]\n", "[attr]\n", "[value]\n",
	};
	EVP_MD_CTX	*ctx = EVP_MD_CTX_new();
	char		 first[64];
	size_t		 l, i;

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		fatalx("codec_bin: SHA-256 unavailable");
	snprintf(first, sizeof(first), "tern-binary-dictionary %u\n",
	    d->version);
	EVP_DigestUpdate(ctx, first, strlen(first));
	for (l = 0; l < BIN_NLISTS; l++) {
		EVP_DigestUpdate(ctx, heads[l], strlen(heads[l]));
		for (i = 0; i < d->lists[l].n; i++) {
			EVP_DigestUpdate(ctx, d->lists[l].s[i],
			    strlen(d->lists[l].s[i]));
			EVP_DigestUpdate(ctx, "\n", 1);
		}
	}
	if (EVP_DigestFinal_ex(ctx, out, NULL) != 1)
		fatalx("codec_bin: SHA-256 failed");
	EVP_MD_CTX_free(ctx);
}

/* Built once, on first use; never freed (static data). */
static struct dict_index *
dict_index(const struct codec_bin_dict *d)
{
	struct dict_index	*x;
	size_t			 n, l, i, k, cap;

	if (indexes == NULL) {
		for (n = 0; codec_bin_dicts[n] != NULL; n++)
			;
		indexes = xcalloc(n, sizeof(*indexes));
		for (i = 0; i < n; i++) {
			x = &indexes[i];
			x->d = codec_bin_dicts[i];
			for (l = 0; l < BIN_NLISTS; l++) {
				for (cap = 16; cap < 4 * x->d->lists[l].n;)
					cap *= 2;
				x->slots[l] = xcalloc(cap, sizeof(int));
				x->mask[l] = cap - 1;
				for (k = 0; k < x->d->lists[l].n; k++) {
					const char *s = x->d->lists[l].s[k];
					size_t h = fnv(s, strlen(s)) &
					    x->mask[l];

					while (x->slots[l][h] != 0)
						h = (h + 1) & x->mask[l];
					x->slots[l][h] = (int)k + 1;
				}
			}
			dict_hash(x->d, x->hash);
			for (k = 0; k < 32; k++)
				snprintf(x->hex + 2 * k, 3, "%02x",
				    x->hash[k]);
		}
	}
	for (i = 0; codec_bin_dicts[i] != NULL; i++)
		if (codec_bin_dicts[i] == d)
			return &indexes[i];
	fatalx("codec_bin: unknown dictionary");
}

/* Token of s (n bytes) in list l, or -1. */
static int
dict_lookup(const struct dict_index *x, int l, const char *s, size_t n)
{
	size_t		 h = fnv(s, n) & x->mask[l];
	const char	*e;
	int		 t;

	while ((t = x->slots[l][h]) != 0) {
		e = x->d->lists[l].s[t - 1];
		if (strncmp(e, s, n) == 0 && e[n] == '\0')
			return t - 1;
		h = (h + 1) & x->mask[l];
	}
	return -1;
}

const struct codec_bin_dict *
codec_bin_dict_current(void)
{
	return codec_bin_dicts[0];
}

void
codec_bin_dict_hash(const struct codec_bin_dict *d, unsigned char out[32])
{
	memcpy(out, dict_index(d)->hash, 32);
}

const char *
codec_bin_dict_hex(const struct codec_bin_dict *d)
{
	return dict_index(d)->hex;
}

const struct codec_bin_dict *
codec_bin_dict_find(unsigned long version, const char *hex)
{
	size_t	i;

	for (i = 0; codec_bin_dicts[i] != NULL; i++)
		if (codec_bin_dicts[i]->version == version && (hex == NULL ||
		    strcmp(codec_bin_dict_hex(codec_bin_dicts[i]), hex) == 0))
			return codec_bin_dicts[i];
	return NULL;
}

/* ---------------------------------------------------------------- */
/* Encoder */

struct span {
	const char	*p;
	size_t		 n;
};

struct obuf {
	unsigned char	*p;
	size_t		 n, cap;
};

struct enc {
	struct obuf		*b;
	const struct dict_index	*x;
	const char		*domain;
	const char		*names[CODEC_BIN_TABLE_MAX];
	struct span		 values[CODEC_BIN_TABLE_MAX];
	unsigned		 nnames, nvalues;
};

static void
ob_need(struct obuf *b, size_t n)
{
	if (b->cap - b->n >= n)
		return;
	while (b->cap - b->n < n)
		b->cap = b->cap == 0 ? 256 : b->cap * 2;
	b->p = xreallocarray(b->p, b->cap, 1);
}

static void
ob_byte(struct obuf *b, unsigned char c)
{
	ob_need(b, 1);
	b->p[b->n++] = c;
}

static void
ob_add(struct obuf *b, const void *p, size_t n)
{
	ob_need(b, n);
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static size_t
varint_put(unsigned char *p, uint64_t v)
{
	size_t	n = 0;

	while (v >= 0x80) {
		p[n++] = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (unsigned char)v;
	return n;
}

static void
ob_varint(struct obuf *b, uint64_t v)
{
	ob_need(b, 10);
	b->n += varint_put(b->p + b->n, v);
}

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

	for (i = 0; i + 1 < n; i += 2) {
		if (s[i] == '-')
			i++;
		ob_byte(b, (unsigned char)(hexval((unsigned char)s[i]) << 4 |
		    hexval((unsigned char)s[i + 1])));
	}
}

/*
 * A value already known: a VALUE token, the stream domain, a namespace
 * token (nsvalue), or an equal STR earlier in the frame.  1 if written.
 */
static int
put_known(struct enc *e, const char *s, size_t n, int nsvalue)
{
	unsigned	i;
	int		t;

	if ((t = dict_lookup(e->x, BIN_VALUE, s, n)) > 0) {
		ob_varint(e->b, (uint64_t)t << 2 | V_DICT);
		return 1;
	}
	if (e->domain != NULL && strncmp(e->domain, s, n) == 0 &&
	    e->domain[n] == '\0') {
		ob_varint(e->b, V_DICT);
		return 1;
	}
	if (nsvalue && (t = dict_lookup(e->x, BIN_NS, s, n)) > 0) {
		ob_varint(e->b, T_NSVALUE << 2 | V_TYPED);
		ob_varint(e->b, (uint64_t)t);
		return 1;
	}
	for (i = 0; i < e->nvalues; i++)
		if (e->values[i].n == n && memcmp(e->values[i].p, s, n) == 0) {
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
	if (e->nvalues < CODEC_BIN_TABLE_MAX) {
		e->values[e->nvalues].p = s;
		e->values[e->nvalues++].n = n;
	}
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
	static const char *const names[] = { "to", "from", "jid", "by" };
	size_t	i;

	if (a->ns != NULL && a->ns[0] != '\0')
		return 0;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(a->name, names[i]) == 0)
			return 1;
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
	return (a->ns == NULL || a->ns[0] == '\0') &&
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

static void
frame_out(struct evbuffer *out, int type, struct obuf *b)
{
	unsigned char	hdr[FRAME_HDR_MAX];
	size_t		n;

	hdr[0] = (unsigned char)type;
	n = 1 + varint_put(hdr + 1, b->n);
	evbuffer_add(out, hdr, n);
	evbuffer_add(out, b->p, b->n);
	if (b->cap > 65536) {
		free(b->p);
		b->p = NULL;
		b->cap = 0;
	}
	b->n = 0;
}

void
codec_bin_write_frame(struct evbuffer *out, int type,
    const struct stanza *st, const char *content_ns, const char *domain)
{
	struct enc	e = {
		.b = &scratch,
		.x = dict_index(codec_bin_dict_current()),
		.domain = domain,
	};

	scratch.n = 0;
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

struct dec {
	const unsigned char		*p, *end;
	const struct codec_bin_dict	*d;
	const char			*content_ns;
	const char			*domain;
	const struct tern_limits	*lim;
	struct span			 names[CODEC_BIN_TABLE_MAX];
	struct span			 values[CODEC_BIN_TABLE_MAX];
	unsigned			 nnames, nvalues;
	struct obuf			 tmp;
	const char			*cond;
	char				 text[160];
};

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
		s->n = strlen(s->p);
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
	*ns = xstrndup(s.p, s.n);
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
	*name = xstrndup(s.p, s.n);
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

	if (get_bytes(d, n, &s) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (uuid && (i == 4 || i == 6 || i == 8 || i == 10))
			tmp_add(d, "-", 1);
		tmp_add(d, &digits[(unsigned char)s.p[i] >> 4], 1);
		tmp_add(d, &digits[(unsigned char)s.p[i] & 15], 1);
	}
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

	d->tmp.n = 0;
	if (get_varint(d, &v, 10) == -1)
		return -1;
	if ((v & 3) == V_TYPED) {
		if (get_typed(d, v >> 2) == -1)
			return -1;
	} else if (get_plain(d, v) == -1)
		return -1;
	*out = xstrndup(d->tmp.n > 0 ? (const char *)d->tmp.p : "",
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
		if (strcmp(el->attrs[i].name, a->name) == 0 &&
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
		k->text = xstrndup(s.p, s.n);
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

struct stanza *
codec_bin_read_body(const void *body, size_t len, const char *content_ns,
    const char *domain, const struct tern_limits *lim, const char **cond,
    char *text, size_t textlen)
{
	struct dec	 d = {
		.p = body, .end = (const unsigned char *)body + len,
		.d = codec_bin_dict_current(), .content_ns = content_ns,
		.domain = domain, .lim = lim,
	};
	struct stanza	*st;

	if ((st = decode_tree(&d)) == NULL) {
		*cond = d.cond;
		snprintf(text, textlen, "%s", d.text);
	}
	return st;
}

/* ---------------------------------------------------------------- */
/* The codec */

struct bin_codec {
	const struct codec_cb		*cb;
	void				*arg;
	char				*content_ns;
	const struct tern_limits	*lim;
	const struct codec_bin_dict	*dict;	/* the peer's, from HEADER */
	char				*domain;
	int				 hdr_seen;	/* read or written */
	int				 opened;	/* peer's HEADER read */
	int				 closed;	/* peer's CLOSE read */
	int				 in_feed;
	int				 failed;
	int				 paused;
	int				 want_restart;
	unsigned char			*buf;	/* an incomplete frame */
	size_t				 len, cap;
};

static void
cfail(struct bin_codec *c, const char *cond, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
cfail(struct bin_codec *c, const char *cond, const char *fmt, ...)
{
	char	text[200];
	va_list	ap;

	if (c->failed)
		return;
	c->failed = 1;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	c->cb->error(c->arg, cond, text);
}

static void
buf_clear(struct bin_codec *c)
{
	free(c->buf);
	c->buf = NULL;
	c->len = c->cap = 0;
}

static void
stream_reset(struct bin_codec *c)
{
	buf_clear(c);
	free(c->domain);
	c->domain = NULL;
	c->dict = NULL;
	c->hdr_seen = c->opened = c->closed = 0;
	c->paused = c->want_restart = 0;
}

static void
set_domain(struct bin_codec *c, const struct stanza *hdr)
{
	const char	*to = stanza_attr(hdr, "to");

	if (c->hdr_seen)
		return;
	c->hdr_seen = 1;
	free(c->domain);
	c->domain = to != NULL ? xstrdup(to) : NULL;
}

static void
read_header(struct bin_codec *c, struct dec *d)
{
	struct stanza	*hdr;
	struct span	 hash = { NULL, 0 }, ns = { NULL, 0 };
	unsigned char	 fmt = 0, want[32];
	uint64_t	 ver;
	int		 tok;

	if (get_byte(d, &fmt) == -1 || get_varint(d, &ver, 5) == -1 ||
	    get_bytes(d, 8, &hash) == -1)
		goto bad;
	if (fmt != 0) {
		cfail(c, "unsupported-version", "binary format %u is not "
		    "supported (0 is)", fmt);
		return;
	}
	if ((d->d = codec_bin_dict_find(ver, NULL)) != NULL)
		codec_bin_dict_hash(d->d, want);
	if (d->d == NULL || memcmp(want, hash.p, 8) != 0) {
		cfail(c, "unsupported-version", "dictionary %llu with this "
		    "hash is not known here", (unsigned long long)ver);
		return;
	}
	if (get_nameref(d, BIN_NS, &tok, &ns) == -1)
		goto bad;
	if (strlen(c->content_ns) != ns.n ||
	    memcmp(ns.p, c->content_ns, ns.n) != 0) {
		cfail(c, "invalid-namespace", "content namespace of the "
		    "stream is not %s", c->content_ns);
		return;
	}
	if ((hdr = decode_tree(d)) == NULL)
		goto bad;
	if (hdr->ns == NULL || strcmp(hdr->ns, STANZA_NS_STREAMS) != 0 ||
	    strcmp(hdr->name, "stream") != 0 || hdr->nkids != 0) {
		stanza_unref(hdr);
		cfail(c, "invalid-namespace", "the header element is not an "
		    "empty {" STANZA_NS_STREAMS "}stream");
		return;
	}
	c->dict = d->d;
	c->opened = 1;
	set_domain(c, hdr);
	c->cb->stream_open(c->arg, hdr);
	stanza_unref(hdr);
	return;
 bad:
	free(d->tmp.p);
	cfail(c, d->cond, "stream header: %s", d->text);
}

static const char *const frame_names[BIN_NFRAMES] = {
	"KEEPALIVE", "STANZA", "HEADER", "FEATURES", "CLOSE", "ERROR",
};

static void
read_tree(struct bin_codec *c, struct dec *d, int type)
{
	struct stanza	*st;

	if ((st = decode_tree(d)) == NULL) {
		cfail(c, d->cond, "%s frame: %s", frame_names[type], d->text);
		return;
	}
	if (type != BIN_STANZA && (st->ns == NULL ||
	    strcmp(st->ns, STANZA_NS_STREAMS) != 0 || strcmp(st->name,
	    type == BIN_FEATURES ? "features" : "error") != 0)) {
		stanza_unref(st);
		cfail(c, "bad-format", "%s frame holds another element",
		    frame_names[type]);
		return;
	}
	c->cb->stanza(c->arg, st);
	stanza_unref(st);
}

static void
handle_frame(struct bin_codec *c, int type, const unsigned char *body,
    size_t len)
{
	struct dec	d = {
		.p = body, .end = body + len, .d = c->dict,
		.content_ns = c->content_ns, .domain = c->domain,
		.lim = c->lim,
	};

	if (c->closed) {
		cfail(c, "bad-format", "%s frame after the stream was "
		    "closed", frame_names[type]);
		return;
	}
	if (!c->opened && type != BIN_HEADER) {
		cfail(c, "bad-format", "%s frame before the stream header",
		    frame_names[type]);
		return;
	}
	switch (type) {
	case BIN_HEADER:
		if (c->opened)
			cfail(c, "bad-format", "second HEADER frame");
		else
			read_header(c, &d);
		break;
	case BIN_KEEPALIVE:
	case BIN_CLOSE:
		if (len != 0)
			cfail(c, "bad-format", "%s frame with a body",
			    frame_names[type]);
		else if (type == BIN_CLOSE) {
			c->closed = 1;
			c->cb->stream_close(c->arg);
		}
		break;
	default:
		read_tree(c, &d, type);
		break;
	}
}

/*
 * Parses a frame header in p[0..n): 1 with *type, *off, *len when the
 * whole frame is there, 0 when more bytes are needed (*len set once the
 * length is known, else 0), -1 after cfail.
 */
static int
frame_parse(struct bin_codec *c, const unsigned char *p, size_t n,
    int *type, size_t *off, size_t *len)
{
	uint64_t	v = 0;
	size_t		i;

	*len = 0;
	if (n == 0)
		return 0;
	if (p[0] >= BIN_NFRAMES) {
		cfail(c, "bad-format", "unknown frame type 0x%02x", p[0]);
		return -1;
	}
	*type = p[0];
	for (i = 1;; i++) {
		if (i == n)
			return 0;
		if (i == FRAME_HDR_MAX || (i == 5 && p[i] > 0x0f)) {
			cfail(c, "bad-format", "frame length varint too "
			    "long");
			return -1;
		}
		v |= (uint64_t)(p[i] & 0x7f) << (7 * (i - 1));
		if (!(p[i] & 0x80))
			break;
	}
	if (p[i] == 0 && i > 1) {
		cfail(c, "bad-format", "overlong frame length varint");
		return -1;
	}
	if (v > c->lim->stanza_size) {
		cfail(c, "policy-violation", "frame of %llu bytes is larger "
		    "than max_stanza_size (%zu bytes)", (unsigned long long)v,
		    c->lim->stanza_size);
		return -1;
	}
	*off = i + 1;
	*len = (size_t)v;
	return n - *off >= *len ? 1 : 0;
}

static int
stop(const struct bin_codec *c)
{
	return c->failed || c->paused || c->want_restart;
}

/*
 * Adds bytes to the incomplete frame in c->buf: one at a time while its
 * header is incomplete, then up to its end.  Returns the bytes used.
 */
static size_t
feed_partial(struct bin_codec *c, const unsigned char *buf, size_t n)
{
	unsigned char	*frame;
	size_t		 off = 0, len, want, take;
	int		 type, r;

	if (frame_parse(c, c->buf, c->len, &type, &off, &len) == -1)
		return n;
	want = len > 0 ? off + len - c->len : 1;
	take = want < n ? want : n;
	if (c->len + take > c->cap) {
		c->cap = c->len + take;
		c->buf = xreallocarray(c->buf, c->cap, 1);
	}
	memcpy(c->buf + c->len, buf, take);
	c->len += take;
	if ((r = frame_parse(c, c->buf, c->len, &type, &off, &len)) == 1) {
		frame = c->buf;
		c->buf = NULL;
		c->len = c->cap = 0;
		handle_frame(c, type, frame + off, len);
		free(frame);
	} else if (r == -1)
		return n;
	return take;
}

static int
bin_feed(void *arg, const char *cbuf, size_t n)
{
	struct bin_codec	*c = arg;
	const unsigned char	*buf = (const unsigned char *)cbuf;
	size_t			 off, len, used;
	int			 type, r;

	if (c->failed)
		return -1;
	c->in_feed = 1;
	while (n > 0 && !stop(c)) {
		if (c->len > 0) {
			used = feed_partial(c, buf, n);
		} else if ((r = frame_parse(c, buf, n, &type, &off, &len)) ==
		    1) {
			used = off + len;
			handle_frame(c, type, buf + off, len);
		} else {
			if (r == 0) {
				c->buf = xreallocarray(NULL, n, 1);
				memcpy(c->buf, buf, n);
				c->len = c->cap = n;
			}
			used = n;
		}
		buf += used;
		n -= used;
		if (c->want_restart && !c->failed) {
			/* The rest is a new stream, or dropped if paused. */
			if (c->paused)
				n = 0;
			stream_reset(c);
		}
	}
	c->in_feed = 0;
	if (c->failed) {
		buf_clear(c);
		return -1;
	}
	return 0;
}

static void *
bin_create(const struct codec_cb *cb, void *arg, const char *content_ns,
    const struct tern_limits *lim)
{
	struct bin_codec	*c;

	c = xcalloc(1, sizeof(*c));
	c->cb = cb;
	c->arg = arg;
	c->content_ns = xstrdup(content_ns);
	c->lim = lim;
	return c;
}

static void
bin_destroy(void *arg)
{
	struct bin_codec	*c = arg;

	if (c == NULL)
		return;
	stream_reset(c);
	free(c->content_ns);
	free(c);
}

static void
bin_restart(void *arg)
{
	struct bin_codec	*c = arg;

	if (c->failed)
		return;
	if (c->in_feed)
		c->want_restart = 1;
	else
		stream_reset(c);
}

static void
bin_pause(void *arg)
{
	struct bin_codec	*c = arg;

	if (c->failed || c->paused)
		return;
	c->paused = 1;
	buf_clear(c);
}

static void
bin_write_header(void *arg, struct evbuffer *out, const struct stanza *hdr)
{
	struct bin_codec	*c = arg;
	const struct codec_bin_dict *dict = codec_bin_dict_current();
	struct enc		 e = {
		.b = &scratch, .x = dict_index(dict), .domain = NULL,
	};

	set_domain(c, hdr);
	scratch.n = 0;
	ob_byte(&scratch, 0);
	ob_varint(&scratch, dict->version);
	ob_add(&scratch, e.x->hash, 8);
	put_nameref(&e, BIN_NS, c->content_ns);
	put_element(&e, hdr, c->content_ns);
	frame_out(out, BIN_HEADER, &scratch);
}

static void
bin_write_stanza(void *arg, struct evbuffer *out, const struct stanza *st)
{
	struct bin_codec	*c = arg;
	int			 type = BIN_STANZA;

	if (st->ns != NULL && strcmp(st->ns, STANZA_NS_STREAMS) == 0) {
		if (strcmp(st->name, "features") == 0)
			type = BIN_FEATURES;
		else if (strcmp(st->name, "error") == 0)
			type = BIN_ERROR;
	}
	codec_bin_write_frame(out, type, st, c->content_ns, c->domain);
}

static void
bin_write_close(void *arg, struct evbuffer *out)
{
	static const unsigned char	close_frame[] = { BIN_CLOSE, 0 };

	evbuffer_add(out, close_frame, sizeof(close_frame));
}

const struct codec_ops codec_bin = {
	.name = "binary",
	.create = bin_create,
	.destroy = bin_destroy,
	.feed = bin_feed,
	.restart = bin_restart,
	.pause = bin_pause,
	.write_header = bin_write_header,
	.write_stanza = bin_write_stanza,
	.write_close = bin_write_close,
};
