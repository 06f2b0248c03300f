/*
 * tern-conv: converts between XMPP XML and tern's binary wire mode
 * (doc/binary.md), for debugging and tests.  Whole streams go through
 * the two codecs exactly as ternd runs them; with -s the input is a
 * sequence of stanzas without a stream around them.  See tern-conv(1).
 */
#include <err.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "codec.h"
#include "codec_bin.h"
#include "conf.h"
#include "stanza.h"

#define MAX_INPUT	(256UL * 1024 * 1024)

static const struct tern_limits lim = {
	.stanza_size = 64 * 1024 * 1024,
	.depth = 1024,
	.attrs = 4096,
};

struct conv {
	const struct codec_ops	*to;
	void			*toc;
	struct evbuffer		*out;
	const char		*name;
	const char		*domain;	/* -s: stream domain */
	int			 stanzas;	/* -s */
	int			 inspect;	/* -i */
	int			 closed;	/* the input stream ended */
	int			 failed;
};

static const char *const frame_names[BIN_NFRAMES] = {
	"KEEPALIVE", "STANZA", "HEADER", "FEATURES", "CLOSE", "ERROR",
};

static void
usage(void)
{
	fprintf(stderr, "usage: tern-conv [-b | -x] [-is] [-d domain] "
	    "[-n namespace] [file]\n       tern-conv -D\n");
	exit(2);
}

static void
flush(struct conv *c)
{
	size_t	len = evbuffer_get_length(c->out);

	if (len > 0 && fwrite(evbuffer_pullup(c->out, -1), 1, len, stdout) !=
	    len)
		err(1, "stdout");
	evbuffer_drain(c->out, len);
}

static void
on_open(void *arg, const struct stanza *hdr)
{
	struct conv	*c = arg;

	if (c->inspect) {
		codec_xml_serialize(hdr, c->out, NULL);
		evbuffer_add(c->out, "\n", 1);
	} else if (!c->stanzas)
		c->to->write_header(c->toc, c->out, hdr);
	flush(c);
}

static void
on_stanza(void *arg, struct stanza *st)
{
	struct conv	*c = arg;

	if (c->stanzas && c->to == &codec_bin)
		codec_bin_write_frame(c->out, BIN_STANZA, st, STANZA_NS_CLIENT,
		    c->domain);
	else
		c->to->write_stanza(c->toc, c->out, st);
	if (c->to == &codec_xml)
		evbuffer_add(c->out, "\n", 1);
	flush(c);
}

static void
on_close(void *arg)
{
	struct conv	*c = arg;

	c->closed = 1;
	if (!c->stanzas && !c->inspect)
		c->to->write_close(c->toc, c->out);
	flush(c);
}

static void
on_error(void *arg, const char *cond, const char *text)
{
	struct conv	*c = arg;

	fprintf(stderr, "tern-conv: %s: <%s/>: %s\n", c->name, cond, text);
	c->failed = 1;
}

static const struct codec_cb conv_cb = {
	on_open, on_stanza, on_close, on_error
};

static unsigned char *
slurp(FILE *f, const char *name, size_t *len)
{
	unsigned char	*p = NULL;
	size_t		 cap = 0, n;

	*len = 0;
	for (;;) {
		if (*len == cap) {
			if (cap >= MAX_INPUT)
				errx(1, "%s: larger than %lu bytes", name,
				    MAX_INPUT);
			cap = cap == 0 ? 65536 : cap * 2;
			if ((p = realloc(p, cap)) == NULL)
				err(1, NULL);
		}
		n = fread(p + *len, 1, cap - *len, f);
		if (n == 0)
			break;
		*len += n;
	}
	if (ferror(f))
		err(1, "%s", name);
	return p;
}

/*
 * The frame at p[off..len): its type byte at off, its body at *body
 * for *n bytes.  -1 (reported) if it is cut short.
 */
static int
frame_at(struct conv *c, const unsigned char *p, size_t len, size_t off,
    size_t *body, size_t *n)
{
	uint64_t	v = 0;
	size_t		i;

	if (p[off] >= BIN_NFRAMES) {
		fprintf(stderr, "tern-conv: %s: byte %zu: unknown frame type "
		    "0x%02x\n", c->name, off, p[off]);
		return -1;
	}
	for (i = 1; off + i < len && i <= 5; i++) {
		v |= (uint64_t)(p[off + i] & 0x7f) << (7 * (i - 1));
		if (!(p[off + i] & 0x80))
			break;
	}
	if (off + i >= len || i > 5 || v > len - off - i - 1) {
		fprintf(stderr, "tern-conv: %s: byte %zu: truncated %s frame\n",
		    c->name, off, frame_names[p[off]]);
		return -1;
	}
	*body = off + i + 1;
	*n = (size_t)v;
	return 0;
}

static int
has_tree(int type)
{
	return type == BIN_STANZA || type == BIN_FEATURES || type == BIN_ERROR;
}

/*
 * Binary input: with -s each frame is decoded on its own, with -i fed to
 * the codec fc one frame at a time, and printed as one line; otherwise
 * the frames are only checked to be whole, so that a truncated stream is
 * an error and not silence.
 */
static int
scan_frames(struct conv *c, const unsigned char *p, size_t len,
    const char *ns, int print, void *fc)
{
	struct stanza	*st;
	const char	*cond;
	char		 text[256];
	size_t		 off = 0, body, n;

	while (off < len) {
		if (frame_at(c, p, len, off, &body, &n) == -1)
			return 1;
		if (print && c->inspect)
			evbuffer_add_printf(c->out, "%s %zu bytes%s",
			    frame_names[p[off]], n, p[off] == BIN_KEEPALIVE ||
			    p[off] == BIN_CLOSE || (c->stanzas &&
			    !has_tree(p[off])) ? "\n" : ": ");
		if (print && c->inspect && !c->stanzas) {
			flush(c);
			if (codec_bin.feed(fc, (const char *)p + off,
			    body + n - off) == -1)
				return 1;
		} else if (print && has_tree(p[off])) {
			st = codec_bin_read_body(p + body, n, ns, c->domain,
			    &lim, &cond, text, sizeof(text));
			if (st == NULL) {
				fprintf(stderr, "tern-conv: %s: byte %zu: "
				    "<%s/>: %s\n", c->name, body, cond, text);
				return 1;
			}
			codec_xml_serialize(st, c->out, ns);
			evbuffer_add(c->out, "\n", 1);
			flush(c);
			stanza_unref(st);
		}
		off = body + n;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	static const char	 xhdr[] = "<stream:stream xmlns='%s' "
				    "xmlns:stream='" STANZA_NS_STREAMS "'>";
	struct conv		 c = { .name = "stdin" };
	const struct codec_ops	*from = NULL;
	const char		*ns = STANZA_NS_CLIENT;
	const struct codec_bin_dict *d;
	unsigned char		*in;
	void			*fc;
	FILE			*f = stdin;
	size_t			 len;
	int			 ch, tobin = -1;
	char			 hdr[256];

	while ((ch = getopt(argc, argv, "bxisd:n:D")) != -1) {
		switch (ch) {
		case 'b': tobin = 1; break;
		case 'x': tobin = 0; break;
		case 'i': c.inspect = 1; break;
		case 's': c.stanzas = 1; break;
		case 'd': c.domain = optarg; break;
		case 'n': ns = optarg; break;
		case 'D':
			d = codec_bin_dict_current();
			printf("dictionary %u sha256 %s\n", d->version,
			    codec_bin_dict_hex(d));
			return 0;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1)
		usage();
	if (argc == 1 && strcmp(argv[0], "-") != 0) {
		if ((f = fopen(argv[0], "rb")) == NULL)
			err(1, "%s", argv[0]);
		c.name = argv[0];
	}
	in = slurp(f, c.name, &len);
	if (f != stdin)
		fclose(f);
	if (tobin == -1)	/* XML starts with '<', a BOM or blanks */
		tobin = len == 0 || strchr("< \t\r\n\xef", in[0]) != NULL;
	if (c.inspect && tobin)
		errx(2, "-i shows binary input: use it with -x");
	if ((c.out = evbuffer_new()) == NULL)
		errx(1, "out of memory");
	c.to = tobin ? &codec_bin : &codec_xml;
	from = tobin ? &codec_xml : &codec_bin;
	c.toc = c.to->create(&conv_cb, &c, ns, &lim);
	fc = from->create(&conv_cb, &c, ns, &lim);
	if (!tobin && (c.stanzas || c.inspect))
		c.failed = scan_frames(&c, in, len, ns, 1, fc);
	else if (!tobin && scan_frames(&c, in, len, ns, 0, fc) != 0)
		c.failed = 1;
	else {
		if (c.stanzas) {
			snprintf(hdr, sizeof(hdr), xhdr, ns);
			from->feed(fc, hdr, strlen(hdr));
		}
		from->feed(fc, (const char *)in, len);
		if (c.stanzas && !c.failed) {
			from->feed(fc, "</stream:stream>", 16);
			if (!c.closed && !c.failed) {
				fprintf(stderr, "tern-conv: %s: input ends "
				    "inside an element\n", c.name);
				c.failed = 1;
			}
		}
	}
	from->destroy(fc);
	c.to->destroy(c.toc);
	flush(&c);
	evbuffer_free(c.out);
	free(in);
	if (fflush(stdout) != 0)
		err(1, "stdout");
	return c.failed ? 1 : 0;
}
