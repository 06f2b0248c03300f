/*
 * The binary codec (doc/binary.md): frames holding element trees whose
 * names are tokens of a versioned dictionary.  codec_bin is a codec like
 * codec_xml (codec.h); the functions below encode and decode single
 * frames for tools, tests and storage, without a stream.
 */
#ifndef TERN_CODEC_BIN_H
#define TERN_CODEC_BIN_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;
struct stanza;
struct tern_limits;

#define CODEC_BIN_NS		"http://tern.im/protocol/binary/0"
#define CODEC_BIN_TABLE_MAX	255	/* per-frame name and value tables */
#define CODEC_BIN_HASH_HEX	65	/* 64 hex digits and NUL */

enum codec_bin_frame {
	BIN_KEEPALIVE = 0,
	BIN_STANZA,
	BIN_HEADER,
	BIN_FEATURES,
	BIN_CLOSE,
	BIN_ERROR,
	BIN_NFRAMES,
};

enum codec_bin_list {
	BIN_NS = 0,
	BIN_ELEMENT,
	BIN_ATTR,
	BIN_VALUE,
	BIN_NLISTS,
};

struct codec_bin_dict {
	unsigned	version;
	struct {
		const char *const	*s;
		size_t			 n;
	}		lists[BIN_NLISTS];
};

/* Every dictionary known, newest first, NULL-terminated. */
extern const struct codec_bin_dict *const codec_bin_dicts[];
extern const struct codec_ops codec_bin;

/* The dictionary written: the newest. */
const struct codec_bin_dict *codec_bin_dict_current(void);
/* SHA-256 of the dictionary's canonical text (doc/binary.md 5.5). */
void	codec_bin_dict_hash(const struct codec_bin_dict *,
	    unsigned char out[32]);
/* The same, as 64 lowercase hex digits (a static buffer per dict). */
const char *codec_bin_dict_hex(const struct codec_bin_dict *);
/* The dictionary with this version and hex hash, or NULL. */
const struct codec_bin_dict *codec_bin_dict_find(unsigned long version,
	    const char *hex);

/*
 * Appends one frame of the given type (BIN_STANZA, BIN_FEATURES or
 * BIN_ERROR) holding st, encoded with the current dictionary.
 * content_ns is the namespace top-level elements inherit; domain the
 * stream domain (NULL: none).
 */
void	codec_bin_write_frame(struct evbuffer *out, int type,
	    const struct stanza *st, const char *content_ns,
	    const char *domain);

/*
 * Decodes the body of a STANZA, FEATURES or ERROR frame.  A new
 * reference, or NULL with *cond set to the stream error condition and a
 * description in text.
 */
struct stanza *codec_bin_read_body(const void *body, size_t len,
	    const char *content_ns, const char *domain,
	    const struct tern_limits *, const char **cond, char *text,
	    size_t textlen);

#endif
