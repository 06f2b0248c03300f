/*
 * sasl.c against libsasl2's own client: SCRAM-SHA-1/-256 with right and
 * wrong passwords, no user enumeration, PLAIN only with TLS, -PLUS with
 * matching and mismatching channel bindings, and -PLUS enforcement.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sasl/sasl.h>
#include <sasl/saslutil.h>

#include "account.h"
#include "sasl.h"
#include "store.h"

#define CB_FN(f)	((int (*)(void))(void (*)(void))(f))

static char		 dir[64];
static const char	*c_user, *c_pass;

static void
setup(void)
{
	strcpy(dir, "/tmp/tern-test-sasl-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(store_open(dir, 16 << 20), 0);
	cr_assert_eq(account_create("example.org", "juliet", "r0meo", 4096),
	    0);
	cr_assert_eq(sasl_init(), 0);
	cr_assert_eq(sasl_client_init(NULL), SASL_OK);
}

static void
teardown(void)
{
	char	cmd[128];

	sasl_client_done();
	sasl_done();
	store_close();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(sasl, .init = setup, .fini = teardown);

static int
get_simple(void *ctx, int id, const char **result, unsigned *len)
{
	*result = id == SASL_CB_AUTHNAME ? c_user : "";
	if (len != NULL)
		*len = (unsigned)strlen(*result);
	return SASL_OK;
}

static int
get_secret(sasl_conn_t *conn, void *ctx, int id, sasl_secret_t **ps)
{
	static union {
		sasl_secret_t	s;
		char		buf[sizeof(sasl_secret_t) + 256];
	} u;

	u.s.len = strlen(c_pass);
	memcpy(u.s.data, c_pass, u.s.len + 1);
	*ps = &u.s;
	return SASL_OK;
}

static const sasl_callback_t client_cbs[] = {
	{ SASL_CB_AUTHNAME, CB_FN(get_simple), NULL },
	{ SASL_CB_USER, CB_FN(get_simple), NULL },
	{ SASL_CB_PASS, CB_FN(get_secret), NULL },
	{ SASL_CB_LIST_END, NULL, NULL },
};

static char *
enc(const char *data, unsigned len)
{
	static char	out[4096];
	unsigned	olen;

	if (len == 0)
		return "=";
	cr_assert_eq(sasl_encode64(data, len, out, sizeof(out), &olen),
	    SASL_OK);
	return out;
}

static const char *
dec(const char *b64, unsigned *len)
{
	static char	out[4096];

	if (strcmp(b64, "=") == 0 || *b64 == '\0') {
		*len = 0;
		return out;
	}
	cr_assert_eq(sasl_decode64(b64, (unsigned)strlen(b64), out,
	    sizeof(out), len), SASL_OK);
	return out;
}

/*
 * One exchange.  mech: what the client uses; send_mech: the name sent
 * to the server (NULL: the same).  Returns the final step and its text.
 */
static enum sasl_step
exchange(const char *user, const char *pass, const char *mech,
    const char *send_mech, unsigned tls_bits,
    const struct sasl_cbdata *scb, sasl_channel_binding_t *ccb,
    const char **result, struct sasl_sess **sp)
{
	sasl_conn_t		*cc;
	struct sasl_sess	*s;
	const char		*out, *chosen, *in;
	unsigned		 olen, inlen;
	enum sasl_step		 r;
	int			 rc, rounds = 0;

	c_user = user;
	c_pass = pass;
	cr_assert_eq(sasl_client_new("xmpp", "example.org", NULL, NULL,
	    client_cbs, 0, &cc), SASL_OK);
	if (ccb != NULL)
		cr_assert_eq(sasl_setprop(cc, SASL_CHANNEL_BINDING, ccb),
		    SASL_OK);
	rc = sasl_client_start(cc, mech, NULL, &out, &olen, &chosen);
	cr_assert(rc == SASL_OK || rc == SASL_CONTINUE, "client start %d",
	    rc);
	s = sasl_sess_new("example.org", tls_bits, scb);
	cr_assert_not_null(s);
	r = sasl_sess_start(s, send_mech ? send_mech : mech,
	    enc(out, olen), result);
	while (r == SASL_STEP_CONTINUE && rounds++ < 10) {
		in = dec(*result, &inlen);
		rc = sasl_client_step(cc, in, inlen, NULL, &out, &olen);
		cr_assert(rc == SASL_OK || rc == SASL_CONTINUE,
		    "client step %d", rc);
		r = sasl_sess_step(s, enc(out, olen), result);
	}
	if (r == SASL_STEP_SUCCESS && **result != '\0') {
		/* The client checks the server's signature. */
		in = dec(*result, &inlen);
		rc = sasl_client_step(cc, in, inlen, NULL, &out, &olen);
		cr_assert_eq(rc, SASL_OK, "server signature rejected");
	}
	sasl_dispose(&cc);
	if (sp != NULL)
		*sp = s;
	else
		sasl_sess_free(s);
	return r;
}

Test(sasl, scram_right_password)
{
	static const char *const mechs[] = { "SCRAM-SHA-256", "SCRAM-SHA-1" };
	struct sasl_sess	*s;
	const char		*res;
	size_t			 i;

	for (i = 0; i < 2; i++) {
		cr_assert_eq(exchange("juliet", "r0meo", mechs[i], NULL, 256,
		    NULL, NULL, &res, &s), SASL_STEP_SUCCESS, "%s", mechs[i]);
		cr_assert_str_eq(sasl_sess_user(s), "juliet");
		sasl_sess_free(s);
	}
}

Test(sasl, scram_user_as_bare_jid_and_case)
{
	struct sasl_sess	*s;
	const char		*res;

	cr_assert_eq(exchange("Juliet@example.org", "r0meo", "SCRAM-SHA-256",
	    NULL, 256, NULL, NULL, &res, &s), SASL_STEP_SUCCESS);
	cr_assert_str_eq(sasl_sess_user(s), "juliet");
	sasl_sess_free(s);
}

Test(sasl, scram_wrong_password)
{
	const char	*res;

	cr_assert_eq(exchange("juliet", "wrong", "SCRAM-SHA-256", NULL, 256,
	    NULL, NULL, &res, NULL), SASL_STEP_FAILURE);
	cr_assert_str_eq(res, "not-authorized");
}

Test(sasl, unknown_user_fails_like_wrong_password)
{
	sasl_conn_t		*cc;
	struct sasl_sess	*s;
	const char		*out, *chosen, *res;
	unsigned		 olen;

	/* The first step must still give a challenge (no enumeration). */
	c_user = "romeo";
	c_pass = "x";
	cr_assert_eq(sasl_client_new("xmpp", "example.org", NULL, NULL,
	    client_cbs, 0, &cc), SASL_OK);
	sasl_client_start(cc, "SCRAM-SHA-256", NULL, &out, &olen, &chosen);
	s = sasl_sess_new("example.org", 256, NULL);
	cr_assert_eq(sasl_sess_start(s, chosen, enc(out, olen), &res),
	    SASL_STEP_CONTINUE);
	sasl_sess_free(s);
	sasl_dispose(&cc);
	cr_assert_eq(exchange("romeo", "x", "SCRAM-SHA-256", NULL, 256, NULL,
	    NULL, &res, NULL), SASL_STEP_FAILURE);
	cr_assert_str_eq(res, "not-authorized");
}

Test(sasl, plain_needs_tls)
{
	struct sasl_sess	*s;
	const char		*res;

	s = sasl_sess_new("example.org", 0, NULL);
	cr_assert_null(strstr(sasl_sess_mechs(s), "PLAIN"));
	cr_assert_not_null(strstr(sasl_sess_mechs(s), "SCRAM-SHA-256"));
	cr_assert_eq(sasl_sess_start(s, "PLAIN", "AGp1bGlldAByMG1lbw==",
	    &res), SASL_STEP_FAILURE);
	cr_assert_str_eq(res, "encryption-required");
	sasl_sess_free(s);
	cr_assert_eq(exchange("juliet", "r0meo", "PLAIN", NULL, 256, NULL,
	    NULL, &res, NULL), SASL_STEP_SUCCESS);
	cr_assert_eq(exchange("juliet", "bad", "PLAIN", NULL, 256, NULL,
	    NULL, &res, NULL), SASL_STEP_FAILURE);
	cr_assert_str_eq(res, "not-authorized");
	cr_assert_eq(exchange("nobody", "bad", "PLAIN", NULL, 256, NULL,
	    NULL, &res, NULL), SASL_STEP_FAILURE);
	cr_assert_str_eq(res, "not-authorized");
}

Test(sasl, only_safe_mechanisms)
{
	struct sasl_sess	*s;
	const char		*res;

	s = sasl_sess_new("example.org", 256, NULL);
	cr_assert_str_eq(sasl_sess_mechs(s),
	    "SCRAM-SHA-256 SCRAM-SHA-1 PLAIN");
	cr_assert_eq(sasl_sess_start(s, "DIGEST-MD5", NULL, &res),
	    SASL_STEP_FAILURE);
	cr_assert_str_eq(res, "invalid-mechanism");
	cr_assert_eq(sasl_sess_start(s, "SCRAM-SHA-256", "!!!!", &res),
	    SASL_STEP_FAILURE);
	cr_assert_str_eq(res, "incorrect-encoding");
	sasl_sess_free(s);
}

static struct sasl_cbdata
server_cb(void)
{
	struct sasl_cbdata	cb;

	memset(&cb, 0, sizeof(cb));
	memset(cb.exporter, 0x42, sizeof(cb.exporter));
	cb.has_exporter = 1;
	memset(cb.endpoint, 0x17, 32);
	cb.endpoint_len = 32;
	return cb;
}

Test(sasl, plus_with_matching_binding)
{
	struct sasl_cbdata	 scb = server_cb();
	unsigned char		 data[32];
	sasl_channel_binding_t	 ccb = { "tls-exporter", 1, 32, data };
	struct sasl_sess	*s;
	const char		*res, *types[3];

	memset(data, 0x42, sizeof(data));
	s = sasl_sess_new("example.org", 256, &scb);
	cr_assert_not_null(strstr(sasl_sess_mechs(s), "SCRAM-SHA-256-PLUS"));
	cr_assert_eq(sasl_sess_cb_types(s, types), 2);
	cr_assert_str_eq(types[0], "tls-exporter");
	sasl_sess_free(s);
	cr_assert_eq(exchange("juliet", "r0meo", "SCRAM-SHA-256-PLUS", NULL,
	    256, &scb, &ccb, &res, NULL), SASL_STEP_SUCCESS);
	/* The other advertised type works too. */
	ccb.name = "tls-server-end-point";
	memset(data, 0x17, sizeof(data));
	cr_assert_eq(exchange("juliet", "r0meo", "SCRAM-SHA-1-PLUS", NULL,
	    256, &scb, &ccb, &res, NULL), SASL_STEP_SUCCESS, "%s", res);
}

Test(sasl, plus_with_wrong_binding_fails)
{
	struct sasl_cbdata	 scb = server_cb();
	unsigned char		 data[32];
	sasl_channel_binding_t	 ccb = { "tls-exporter", 1, 32, data };
	const char		*res;

	memset(data, 0x43, sizeof(data));	/* a MITM's channel */
	cr_assert_eq(exchange("juliet", "r0meo", "SCRAM-SHA-256-PLUS", NULL,
	    256, &scb, &ccb, &res, NULL), SASL_STEP_FAILURE);
}

Test(sasl, plus_is_enforced)
{
	struct sasl_cbdata	scb = server_cb();
	const char		*res;

	/* A client that sends "n" but names the -PLUS mechanism fails. */
	cr_assert_eq(exchange("juliet", "r0meo", "SCRAM-SHA-256",
	    "SCRAM-SHA-256-PLUS", 256, &scb, NULL, &res, NULL),
	    SASL_STEP_FAILURE);
	cr_assert_str_eq(res, "not-authorized");
}
