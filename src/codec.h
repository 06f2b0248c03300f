/*
 * Codecs turn bytes into stanza trees and back.  A stream picks one codec
 * (codec_xml, or codec_bin of codec_bin.h); router and modules never
 * see bytes.  The codec enforces the limits on what it parses and reports
 * each violation as an RFC 6120 stream error condition, once.
 *
 * Callbacks run from inside codec feed().  A callback may call the
 * codec's restart() (takes effect right after the current top-level
 * element: the rest of the bytes fed in the same call are parsed as a new
 * stream) or pause() (the rest of the bytes fed in the same call are
 * discarded and feed returns), but must never free the codec nor call
 * feed(): the stream retires itself and the reaper frees it later.
 *
 * After pause() every byte fed is dropped (feed returns 0) until
 * restart() is called; pause() and restart() together, as after
 * <starttls/>, drop the rest of the call and expect a new stream.
 * restart() outside a callback forgets the current stream at once.
 * After cb->error neither has any effect: feed keeps returning -1.
 */
#ifndef TERN_CODEC_H
#define TERN_CODEC_H

#include <stddef.h>

struct evbuffer;
struct stanza;
struct tern_limits;

struct codec_cb {
	/*
	 * A stream header arrived: hdr is a childless element (ns
	 * STANZA_NS_STREAMS, name "stream") with the header's attributes
	 * (to, from, id, version, xml:lang as ns STANZA_NS_XML).  Borrowed.
	 */
	void	(*stream_open)(void *arg, const struct stanza *hdr);
	/* One complete top-level element.  Borrowed: stanza_ref to keep. */
	void	(*stanza)(void *arg, struct stanza *st);
	/* The peer closed its stream (</stream:stream>). */
	void	(*stream_close)(void *arg);
	/*
	 * The input broke a rule: condition is an RFC 6120 4.9.3 stream
	 * error condition ("not-well-formed", "invalid-namespace",
	 * "policy-violation", "restricted-xml", "unsupported-encoding",
	 * "bad-format", "resource-constraint" when expat runs out of
	 * memory; the binary codec also "unsupported-version" for an
	 * unknown dictionary), text says what exactly.  Called at most once;
	 * nothing more is parsed after it.
	 */
	void	(*error)(void *arg, const char *condition, const char *text);
};

struct codec_ops {
	const char	*name;
	/*
	 * content_ns: the stream's default namespace ("jabber:client");
	 * a header declaring another one is invalid-namespace.
	 * The limits are borrowed and must outlive the codec.
	 */
	void	*(*create)(const struct codec_cb *, void *arg,
		    const char *content_ns, const struct tern_limits *);
	void	 (*destroy)(void *);	/* never from inside a callback */
	/* 0, or -1 after cb->error was called (or was called earlier). */
	int	 (*feed)(void *, const char *buf, size_t len);
	void	 (*restart)(void *);
	void	 (*pause)(void *);
	/*
	 * Output.  Headers and stanzas are written to out; names in
	 * STANZA_NS_STREAMS use the stream: prefix, elements in content_ns
	 * need no xmlns.
	 */
	void	 (*write_header)(void *, struct evbuffer *out,
		    const struct stanza *hdr);
	void	 (*write_stanza)(void *, struct evbuffer *out,
		    const struct stanza *st);
	void	 (*write_close)(void *, struct evbuffer *out);
};

extern const struct codec_ops codec_xml;

/*
 * Serializes st as XML into out, escaping text (&, <, >) and attribute
 * values (&, <, >, ', ") and declaring namespaces relative to
 * parent_ns (xmlns='...' is omitted where st's ns equals parent_ns).
 * CR, and in attribute values TAB and LF, become character references
 * so that parsing gives back the same tree.  Elements in
 * STANZA_NS_STREAMS are written with the stream: prefix, which the
 * stream header declares; xml:lang keeps the xml: prefix; other
 * namespaced attributes get a prefix declared on their element.
 */
void	codec_xml_serialize(const struct stanza *st, struct evbuffer *out,
	    const char *parent_ns);

/*
 * Parses one element from XML text (stored stanzas): a new reference,
 * or NULL if the text is not exactly well-formed XML for one element.
 */
struct stanza	*codec_xml_parse_one(const char *xml, size_t len);

#endif
