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

#include "codec.h"
#include "codec_bin_int.h"
#include "conf.h"
#include "log.h"
#include "stanza.h"
#include "xmalloc.h"

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
read_header(struct bin_codec *c, const unsigned char *body, size_t len)
{
	const struct codec_bin_dict	*dict;
	struct stanza			*hdr;
	const char			*cond;
	char				 text[200];

	if ((hdr = codec_bin_read_header(body, len, c->content_ns, c->lim,
	    &dict, &cond, text, sizeof(text))) == NULL) {
		cfail(c, cond, "%s", text);
		return;
	}
	c->dict = dict;
	c->opened = 1;
	set_domain(c, hdr);
	c->cb->stream_open(c->arg, hdr);
	stanza_unref(hdr);
}

static const char *const frame_names[BIN_NFRAMES] = {
	"KEEPALIVE", "STANZA", "HEADER", "FEATURES", "CLOSE", "ERROR",
};

static void
read_tree(struct bin_codec *c, const unsigned char *body, size_t len,
    int type)
{
	struct stanza	*st;
	const char	*cond;
	char		 text[200];

	if ((st = codec_bin_read_tree(body, len, c->dict, c->content_ns,
	    c->domain, c->lim, &cond, text, sizeof(text))) == NULL) {
		cfail(c, cond, "%s frame: %s", frame_names[type], text);
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
			read_header(c, body, len);
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
		read_tree(c, body, len, type);
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

	set_domain(c, hdr);
	codec_bin_write_header(out, hdr, c->content_ns);
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

