/*
 * SASL through Cyrus libsasl2 (see shared/notes/sasl.md).  Credentials are
 * served to libsasl2 by an in-process auxprop plugin reading the account
 * store; PLAIN is checked against the same salted keys; no sasldb and no
 * /etc/sasl2 file is used.  One struct sasl_sess per authenticating
 * stream, freed once the stream is authenticated.
 */
#ifndef TERN_SASL_H
#define TERN_SASL_H

#include <stddef.h>

/* Channel-binding data of a TLS connection (filled by tls.c). */
struct sasl_cbdata {
	unsigned char	exporter[32];	/* RFC 9266 tls-exporter */
	int		has_exporter;
	unsigned char	endpoint[64];	/* RFC 5929 tls-server-end-point */
	unsigned	endpoint_len;
	unsigned char	unique[64];	/* RFC 5929 tls-unique (COMPAT) */
	unsigned	unique_len;
};

enum sasl_step {
	SASL_STEP_CONTINUE,	/* *out: base64 challenge ("=" if empty) */
	SASL_STEP_SUCCESS,	/* *out: base64 success data or "" */
	SASL_STEP_FAILURE,	/* *out: RFC 6120 6.5 failure condition */
};

/* Global set-up, once per process: 0 or -1 (logged). */
int		 sasl_init(void);
void		 sasl_done(void);
/* Iteration count for the stand-in record of unknown users. */
void		 sasl_set_iterations(unsigned);

/*
 * A session for domain.  tls_bits: 0 without TLS (PLAIN is then never
 * offered nor accepted).  cb may be NULL (no -PLUS mechanisms); it is
 * copied.  NULL on failure (logged).
 */
struct sasl_sess *sasl_sess_new(const char *domain, unsigned tls_bits,
		    const struct sasl_cbdata *cb);
void		 sasl_sess_free(struct sasl_sess *);
/* Space-separated mechanisms offered; borrowed. */
const char	*sasl_sess_mechs(struct sasl_sess *);
/* Channel-binding types offered (XEP-0440): count, names in names[]. */
int		 sasl_sess_cb_types(struct sasl_sess *, const char *names[3]);

/*
 * One step.  b64in: the element's text (NULL when <auth/> carried no
 * initial response).  *out is owned by the session until the next call.
 */
enum sasl_step	 sasl_sess_start(struct sasl_sess *, const char *mech,
		    const char *b64in, const char **out);
enum sasl_step	 sasl_sess_step(struct sasl_sess *, const char *b64in,
		    const char **out);
/* After success: the authenticated user (prepared node); borrowed. */
const char	*sasl_sess_user(struct sasl_sess *);
/* The authcid the client claimed, for logs after a failure; borrowed. */
const char	*sasl_sess_attempted_user(struct sasl_sess *);

#endif
