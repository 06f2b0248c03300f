/*
 * bin-measure: bytes and CPU per stanza of tern's binary wire mode
 * against XML, on corpus files of real stanzas (bench/corpus, one
 * top-level element per line, as a c2s stream on example.org carries
 * them).  Run by bench/binary-bench; prints a Markdown table.
 *
 * Bytes per stanza, each stanza as ternd writes it:
 *   xml        codec_xml_serialize (what the XML codec sends)
 *   binary     one STANZA frame (codec_bin, stream domain example.org)
 *   xml+zlib   each stanza deflated on its own (raw deflate, level 6:
 *              per-stanza compression, no shared history)
 *   stream     one deflate stream over the file, flushed after each
 *              stanza as XEP-0138 does (shared history: reference only)
 * CPU per stanza (process CPU time, best of 5 runs of >= 0.2 s each),
 * decode plus encode through the codec interface as ternd uses it:
 *   xml        expat parses the stanzas fed in one call, each tree is
 *              serialized again (the parser lives through the call)
 *   xml-idle   the same, one feed per stanza: codec_xml frees the expat
 *              parser between stanzas and rebuilds it (ternd's idle path)
 *   binary     codec_bin decodes the frames fed in one call, each tree is
 *              encoded again
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <expat.h>
#include <zlib.h>

#include "codec.h"
#include "codec_bin.h"
#include "conf.h"
#include "stanza.h"

#define DOMAIN		"example.org"
#define MAXST		4096
#define MIN_NS		200000000LL	/* per timed run */
#define RUNS		5

static const struct tern_limits lim = {
	.stanza_size = 1 << 20, .depth = 64, .attrs = 64,
};

static const char	 xhdr[] = "<stream:stream xmlns='jabber:client' "
			    "xmlns:stream='http://etherx.jabber.org/streams' "
			    "to='" DOMAIN "' version='1.0'>";

struct sink {
	const struct codec_ops	*ops;
	void			*codec;		/* the writing codec */
	struct evbuffer		*out;
	struct stanza		*st[MAXST];
	size_t			 n;
	int			 keep;
	int			 failed;
};

static void
s_open(void *arg, const struct stanza *hdr)
{
}

static void
s_stanza(void *arg, struct stanza *st)
{
	struct sink	*s = arg;

	if (s->keep) {
		if (s->n < MAXST)
			s->st[s->n++] = stanza_ref(st);
		return;
	}
	s->ops->write_stanza(s->codec, s->out, st);
}

static void
s_close(void *arg)
{
}

static void
s_error(void *arg, const char *cond, const char *text)
{
	fprintf(stderr, "bin-measure: %s: %s\n", cond, text);
	((struct sink *)arg)->failed = 1;
}

static const struct codec_cb sink_cb = { s_open, s_stanza, s_close, s_error };

static long long
cpu_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static char *
slurp(const char *path, size_t *len)
{
	FILE	*f = fopen(path, "rb");
	char	*p;
	long	 n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0)
		return NULL;
	rewind(f);
	p = malloc((size_t)n + 1);
	if (p == NULL || fread(p, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(p);
		return NULL;
	}
	fclose(f);
	p[n] = '\0';
	*len = (size_t)n;
	return p;
}

static size_t
deflated(z_stream *z, const void *p, size_t n, int flush)
{
	unsigned char	out[1 << 16];
	size_t		total = 0;

	z->next_in = (unsigned char *)p;
	z->avail_in = (uInt)n;
	do {
		z->next_out = out;
		z->avail_out = sizeof(out);
		deflate(z, flush);
		total += sizeof(out) - z->avail_out;
	} while (z->avail_out == 0);
	return total;
}

static void *
codec_new(const struct codec_ops *ops, struct sink *s, const char *hdr,
    size_t hlen)
{
	void	*c = ops->create(&sink_cb, s, STANZA_NS_CLIENT, &lim);

	if (ops->feed(c, hdr, hlen) == -1) {
		fprintf(stderr, "bin-measure: %s header refused\n", ops->name);
		exit(1);
	}
	return c;
}

/*
 * Decode plus encode of the stanzas in buf (each [off[i], off[i+1])),
 * per stanza in ns: fed in one call, or one call per stanza.
 */
static double
time_path(const struct codec_ops *ops, const char *hdr, size_t hlen,
    const char *buf, const size_t *off, size_t n, int per_stanza)
{
	struct sink	 s = { .ops = ops };
	long long	 best = -1, t0, t;
	size_t		 iters, it, i;
	int		 run;

	s.out = evbuffer_new();
	s.codec = codec_new(ops, &s, hdr, hlen);	/* writer side */
	for (run = 0; run < RUNS; run++) {
		void	*rd = codec_new(ops, &s, hdr, hlen);

		iters = 0;
		t0 = cpu_ns();
		do {
			for (it = 0; it < 16; it++) {
				if (per_stanza) {
					for (i = 0; i < n; i++)
						ops->feed(rd, buf + off[i],
						    off[i + 1] - off[i]);
				} else
					ops->feed(rd, buf, off[n]);
				evbuffer_drain(s.out,
				    evbuffer_get_length(s.out));
			}
			iters += 16;
		} while ((t = cpu_ns() - t0) < MIN_NS);
		ops->destroy(rd);
		if (best == -1 || t / (long long)iters < best)
			best = t / (long long)iters;
	}
	if (s.failed)
		exit(1);
	ops->destroy(s.codec);
	evbuffer_free(s.out);
	return (double)best / (double)n;
}

static void
measure(const char *path, double *chat_ratio, double *chat_speed)
{
	struct sink	 s = { .keep = 1 };
	struct evbuffer	*xml = evbuffer_new(), *bin = evbuffer_new(), *one;
	z_stream	 zs, zw;
	size_t		 len, i, xo[MAXST + 1], bo[MAXST + 1];
	size_t		 xbytes = 0, bbytes = 0, zbytes = 0, wbytes = 0, hl;
	char		*text, *xbuf, *bbuf, *bhdr, *name;
	void		*c, *bc;
	double		 tx, ti, tb;

	if ((text = slurp(path, &len)) == NULL) {
		perror(path);
		exit(1);
	}
	c = codec_new(&codec_xml, &s, xhdr, sizeof(xhdr) - 1);
	if (codec_xml.feed(c, text, len) == -1 || s.n == 0) {
		fprintf(stderr, "bin-measure: %s: no stanzas\n", path);
		exit(1);
	}
	codec_xml.destroy(c);
	/* The binary header, for the decoding codec. */
	one = evbuffer_new();
	bc = codec_bin.create(&sink_cb, &s, STANZA_NS_CLIENT, &lim);
	{
		struct stanza	*h = stanza_new(STANZA_NS_STREAMS, "stream");

		stanza_set_attr(h, "to", DOMAIN);
		stanza_set_attr(h, "version", "1.0");
		codec_bin.write_header(bc, one, h);
		stanza_unref(h);
	}
	hl = evbuffer_get_length(one);
	bhdr = malloc(hl);
	evbuffer_remove(one, bhdr, hl);
	memset(&zw, 0, sizeof(zw));
	deflateInit2(&zw, 6, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY);
	xo[0] = bo[0] = 0;
	for (i = 0; i < s.n; i++) {
		codec_xml_serialize(s.st[i], one, STANZA_NS_CLIENT);
		len = evbuffer_get_length(one);
		xbytes += len;
		xo[i + 1] = xo[i] + len;
		memset(&zs, 0, sizeof(zs));
		deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
		zbytes += deflated(&zs, evbuffer_pullup(one, -1), len,
		    Z_FINISH);
		deflateEnd(&zs);
		wbytes += deflated(&zw, evbuffer_pullup(one, -1), len,
		    Z_SYNC_FLUSH);
		evbuffer_remove_buffer(one, xml, len);
		codec_bin.write_stanza(bc, bin, s.st[i]);
		bo[i + 1] = evbuffer_get_length(bin);
		bbytes = bo[i + 1];
		stanza_unref(s.st[i]);
	}
	deflateEnd(&zw);
	codec_bin.destroy(bc);
	xbuf = (char *)evbuffer_pullup(xml, -1);
	bbuf = (char *)evbuffer_pullup(bin, -1);
	tx = time_path(&codec_xml, xhdr, sizeof(xhdr) - 1, xbuf, xo, s.n, 0);
	ti = time_path(&codec_xml, xhdr, sizeof(xhdr) - 1, xbuf, xo, s.n, 1);
	tb = time_path(&codec_bin, bhdr, hl, bbuf, bo, s.n, 0);
	name = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 :
	    (char *)path;
	printf("| %s | %zu | %.0f | %.0f (%.0f%%) | %.0f (%.0f%%) | "
	    "%.0f (%.0f%%) | %.2f | %.2f | %.2f | %.1fx |\n", name, s.n,
	    (double)xbytes / s.n, (double)bbytes / s.n,
	    100.0 * bbytes / xbytes, (double)zbytes / s.n,
	    100.0 * zbytes / xbytes, (double)wbytes / s.n,
	    100.0 * wbytes / xbytes, tx / 1000, ti / 1000, tb / 1000,
	    tx / tb);
	if (strcmp(name, "chat.xml") == 0) {
		*chat_ratio = 100.0 * bbytes / xbytes;
		*chat_speed = tx / tb;
	}
	free(bhdr);
	free(text);
	evbuffer_free(one);
	evbuffer_free(xml);
	evbuffer_free(bin);
}

int
main(int argc, char *argv[])
{
	const struct codec_bin_dict	*d = codec_bin_dict_current();
	double				 ratio = -1, speed = -1;
	int				 i;

	if (argc < 2) {
		fprintf(stderr, "usage: bin-measure corpus.xml ...\n");
		return 2;
	}
	printf("dictionary %u (sha256 %.16s...), %s, zlib %s\n\n",
	    d->version, codec_bin_dict_hex(d), XML_ExpatVersion(),
	    zlibVersion());
	printf("| corpus | stanzas | XML B/st | binary B/st | XML+zlib "
	    "per stanza | whole-stream zlib (ref.) | XML us/st | XML idle "
	    "us/st | binary us/st | binary speed-up |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|\n");
	for (i = 1; i < argc; i++)
		measure(argv[i], &ratio, &speed);
	if (ratio >= 0)
		printf("\nchat corpus: binary is %.0f%% of XML bytes (target "
		    "<= 40%%), decode+encode %.1fx faster than expat parse + "
		    "serialize (target >= 3x)\n", ratio, speed);
	return 0;
}
