/*
 * The c2s stream state machine (RFC 6120): header, features, STARTTLS,
 * SASL, resource binding, stream restarts and stream errors.  A stream
 * owns its conn, its codec state and, once bound, its session.  Closing
 * marks and retires; the reaper frees (house rule 5).
 */
#ifndef TERN_STREAM_H
#define TERN_STREAM_H

#include <sys/socket.h>

struct stanza;
struct stream;

/*
 * A socket accepted on a c2s listener.  flags: STREAM_DIRECT_TLS
 * (XEP-0368), STREAM_SNIFF (the first byte picks XML or binary,
 * doc/binary.md 3).
 */
#define STREAM_DIRECT_TLS	0x01
#define STREAM_SNIFF		0x02
void	stream_accept(int fd, const struct sockaddr *, socklen_t, int flags);
/* Queues st (borrowed) for the peer. */
void	stream_send(struct stream *, const struct stanza *st);
/* Sends a stream error (RFC 6120 4.9.3 condition), then closes. */
void	stream_error(struct stream *, const char *condition,
	    const char *text);
/* SIGTERM: system-shutdown to every stream; the count still open. */
void	stream_shutdown_all(void);
size_t	stream_count(void);
/* The peer's IP address (no port). */
const char *stream_address(const struct stream *);

#endif
