/*
 * Internals shared by codec_bin.c (the stream codec), codec_bin_dict.c
 * (the dictionary and its index) and codec_bin_tree.c (encoding and
 * decoding one frame's tree).  Nothing outside these files includes it.
 */
#ifndef TERN_CODEC_BIN_INT_H
#define TERN_CODEC_BIN_INT_H

#include <stdint.h>
#include <string.h>

#include "codec_bin.h"
#include "xmalloc.h"

struct evbuffer;
struct stanza;
struct tern_limits;

#define NS_XMLNS	"http://www.w3.org/2000/xmlns/"
#define FRAME_HDR_MAX	6	/* type byte and a 5-byte length */
#define SHORT_NAMES	15	/* ELEMENT tokens in the tag byte */
#define HEX_MAX		64	/* bytes of a HEX value */
#define ATTR_NSTOK	0	/* ATTR token: namespaced attribute */
#define ATTR_LANGTOK	1	/* ATTR token: xml:lang */

enum value_kind { V_STR = 0, V_REF, V_DICT, V_TYPED };
enum value_type { T_JID = 0, T_HEX, T_UUID, T_DECIMAL, T_NSVALUE };


/* An open-addressing slot: the token + 1 (0: empty), its hash, length. */
struct dict_slot {
	uint32_t	hash;
	uint32_t	len;
	int		tok1;
};

struct dict_index {
	const struct codec_bin_dict	*d;
	struct dict_slot		*slots[BIN_NLISTS];
	size_t				 mask[BIN_NLISTS];
	size_t				 maxlen[BIN_NLISTS];
	uint32_t			*lens[BIN_NLISTS];	/* by token */
	unsigned char			 hash[32];
	char				 hex[CODEC_BIN_HASH_HEX];
};

/* The index of a dictionary, built on first use (static data). */
const struct dict_index	*codec_bin_dict_index(const struct codec_bin_dict *);
/* The hash of s (n bytes) that the index uses. */
uint32_t	codec_bin_hash(const char *s, size_t n);
/* Token of s (n bytes, hash hv) in list l, or -1. */
int		codec_bin_dict_lookup(const struct dict_index *, int l,
		    const char *s, size_t n, uint32_t hv);

/*
 * HEADER frames: written for hdr; read into a new reference and the
 * peer's dictionary, or NULL with the stream error in cond and text.
 */
void		codec_bin_write_header(struct evbuffer *,
		    const struct stanza *hdr, const char *content_ns);
struct stanza	*codec_bin_read_header(const void *body, size_t len,
		    const char *content_ns, const struct tern_limits *,
		    const struct codec_bin_dict **, const char **cond,
		    char *text, size_t textlen);
/* A STANZA, FEATURES or ERROR body in the given dictionary. */
struct stanza	*codec_bin_read_tree(const void *body, size_t len,
		    const struct codec_bin_dict *, const char *content_ns,
		    const char *domain, const struct tern_limits *,
		    const char **cond, char *text, size_t textlen);

/* A growable output buffer. */
struct obuf {
	unsigned char	*p;
	size_t		 n, cap;
};

static inline void
ob_need(struct obuf *b, size_t n)
{
	if (b->cap - b->n >= n)
		return;
	while (b->cap - b->n < n)
		b->cap = b->cap == 0 ? 256 : b->cap * 2;
	b->p = xreallocarray(b->p, b->cap, 1);
}

static inline void
ob_byte(struct obuf *b, unsigned char c)
{
	ob_need(b, 1);
	b->p[b->n++] = c;
}

static inline void
ob_add(struct obuf *b, const void *p, size_t n)
{
	if (n == 0)
		return;		/* b->p may still be NULL */
	ob_need(b, n);
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static inline size_t
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

static inline void
ob_varint(struct obuf *b, uint64_t v)
{
	ob_need(b, 10);
	b->n += varint_put(b->p + b->n, v);
}

#endif
