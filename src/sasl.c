/*
 * libsasl2 glue.  Follows the findings of shared/notes/sasl.md: fixed
 * mech_list, NULL realm, SASL_SUCCESS_DATA, an in-process auxprop
 * ("ternstore") serving RFC 5803 authPassword values, PLAIN checked by
 * the CHECKPASS callback, -PLUS enforced by us (libsasl2 does not), the
 * channel-binding type chosen per client, and a stand-in record for
 * unknown users so that SCRAM fails the same way for a wrong password
 * and for a user that does not exist (no user enumeration).
 *
 * libsasl2 calls back synchronously from sasl_server_start/step; the
 * loop is single-threaded, so 'cur' names the session being served.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sasl/sasl.h>
#include <sasl/saslplug.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "account.h"
#include "jid.h"
#include "log.h"
#include "sasl.h"
#include "store.h"
#include "xmalloc.h"

#define TERN_SASL_APP	"tern"
#define MECH_LIST	"SCRAM-SHA-256 SCRAM-SHA-1 PLAIN"
#define AUX_NAME	"ternstore"
#define SECRET_LEN	32
/* libsasl2 stores callbacks as int (*)(void); go through void (*)(void). */
#define SASL_CB_FN(f)	((int (*)(void))(void (*)(void))(f))
#define B64_MAX		(64 * 1024)	/* SASL payloads are small */

struct sasl_sess {
	sasl_conn_t		*conn;
	char			*domain;
	struct sasl_sdata {
		struct sasl_cbdata	data;
		sasl_channel_binding_t	binding;
	}			 cb;
	int			 has_cb;
	char			*mechs;
	char			*out;
	char			*user;
	char			*attempted;
	int			 plus_pending;	/* -PLUS, no initial data */
	sasl_callback_t		 callbacks[3];
};

static struct sasl_sess	*cur;
static unsigned char	 secret[SECRET_LEN];
static unsigned		 fake_iterations = 4096;
static int		 initialised;

/* Strips "@domain" when it names this domain, then nodeprep. */
static char *
normalize_user(const char *user, size_t ulen, const char *domain)
{
	char	*raw, *at, *node;

	raw = xstrndup(user, ulen);
	if ((at = strrchr(raw, '@')) != NULL) {
		if (strcasecmp(at + 1, domain) != 0) {
			free(raw);
			return NULL;
		}
		*at = '\0';
	}
	node = jid_prep_node(raw);
	free(raw);
	return node;
}

/* A stable stand-in record for a user that does not exist. */
static char *
fake_authpw(const char *user)
{
	static const char *const md[] = { "SHA256", "SHA1" };
	static const char *const scheme[] = { "SCRAM-SHA-256", "SCRAM-SHA-1" };
	unsigned char	 k[3][EVP_MAX_MD_SIZE];
	char		 enc[3][100], *out = NULL, *line;
	unsigned int	 len;
	int		 i, j, mdlen;

	for (i = 0; i < 2; i++) {
		mdlen = EVP_MD_get_size(EVP_get_digestbyname(md[i]));
		for (j = 0; j < 3; j++) {
			unsigned char	msg[1100];
			size_t		ul = strlen(user);

			if (ul > 1023)
				ul = 1023;
			msg[0] = (unsigned char)('a' + j);
			memcpy(msg + 1, user, ul);
			HMAC(EVP_sha256(), secret, SECRET_LEN, msg, ul + 1,
			    k[j], &len);
			EVP_EncodeBlock((unsigned char *)enc[j], k[j],
			    j == 0 ? 16 : mdlen);
		}
		xasprintf(&line, "%s%s%s$%u:%s$%s:%s", out ? out : "",
		    out ? "\n" : "", scheme[i], fake_iterations, enc[0],
		    enc[1], enc[2]);
		free(out);
		out = line;
	}
	return out;
}

/* The stored record of user, or the stand-in; never NULL. */
static char *
lookup_authpw(const char *user, unsigned ulen, const char *domain)
{
	char	*node, *authpw = NULL;

	if ((node = normalize_user(user, ulen, domain)) != NULL) {
		if (cur != NULL && cur->attempted == NULL)
			cur->attempted = xstrdup(node);
		if (account_get(domain, node, &authpw) != 0)
			authpw = NULL;
	}
	if (authpw == NULL)
		authpw = fake_authpw(node != NULL ? node : "");
	free(node);
	return authpw;
}

static int
aux_lookup(void *glob, sasl_server_params_t *sp, unsigned flags,
    const char *user, unsigned ulen)
{
	const struct propval	*to_fetch, *p;
	char			*authpw, *line, *nl;

	if (flags & SASL_AUXPROP_AUTHZID)
		return SASL_OK;		/* nothing to serve for authzids */
	if ((to_fetch = sp->utils->prop_get(sp->propctx)) == NULL)
		return SASL_NOMEM;
	for (p = to_fetch; p->name != NULL; p++) {
		if (strcmp(p->name, "*authPassword") != 0)
			continue;	/* never serve userPassword */
		if (p->values != NULL) {
			if (!(flags & SASL_AUXPROP_OVERRIDE))
				continue;
			sp->utils->prop_erase(sp->propctx, p->name);
		}
		authpw = lookup_authpw(user, ulen, sp->serverFQDN);
		for (line = authpw; line != NULL; line = nl) {
			if ((nl = strchr(line, '\n')) != NULL)
				*nl++ = '\0';
			sp->utils->prop_set(sp->propctx, p->name, line,
			    (unsigned)strlen(line));
		}
		OPENSSL_cleanse(authpw, strlen(authpw));
		free(authpw);
	}
	return SASL_OK;
}

static sasl_auxprop_plug_t aux_plugin = {
	.name = AUX_NAME,
	.auxprop_lookup = aux_lookup,
};

static int
aux_init(const sasl_utils_t *utils, int max_version, int *out_version,
    sasl_auxprop_plug_t **plug, const char *plugname)
{
	if (max_version < SASL_AUXPROP_PLUG_VERSION)
		return SASL_BADVERS;
	*out_version = SASL_AUXPROP_PLUG_VERSION;
	*plug = &aux_plugin;
	return SASL_OK;
}

static const struct {
	const char	*name;
	const char	*value;
} options[] = {
	{ "mech_list", MECH_LIST },
	{ "auxprop_plugin", AUX_NAME },
	{ "pwcheck_method", "auxprop" },
	{ "log_level", "2" },
};

static int
getopt_cb(void *ctx, const char *plugin, const char *option,
    const char **result, unsigned *len)
{
	size_t	i;

	for (i = 0; i < sizeof(options) / sizeof(options[0]); i++)
		if (strcmp(option, options[i].name) == 0) {
			*result = options[i].value;
			if (len != NULL)
				*len = (unsigned)strlen(*result);
			return SASL_OK;
		}
	*result = NULL;		/* scram.c reads it without checking */
	return SASL_FAIL;
}

static int
log_cb(void *ctx, int level, const char *message)
{
	if (level <= SASL_LOG_ERR)
		log_warnx("sasl: %s", message);
	else
		log_debug("sasl: %s", message);
	return SASL_OK;
}

static const sasl_callback_t global_cbs[] = {
	{ SASL_CB_GETOPT, SASL_CB_FN(getopt_cb), NULL },
	{ SASL_CB_LOG, SASL_CB_FN(log_cb), NULL },
	{ SASL_CB_LIST_END, NULL, NULL },
};

/* PLAIN: checked against the same salted keys as SCRAM. */
static int
checkpass_cb(sasl_conn_t *conn, void *ctx, const char *user,
    const char *pass, unsigned passlen, struct propctx *propctx)
{
	struct sasl_sess	*s = ctx;
	char			*authpw;
	int			 ok;

	authpw = lookup_authpw(user, (unsigned)strlen(user), s->domain);
	ok = account_check_password(authpw, pass, passlen) == 0;
	OPENSSL_cleanse(authpw, strlen(authpw));
	free(authpw);
	return ok ? SASL_OK : SASL_BADAUTH;
}

/* authzid may be the authcid itself or its bare JID on this domain. */
static int
proxy_cb(sasl_conn_t *conn, void *ctx, const char *req, unsigned rlen,
    const char *auth, unsigned alen, const char *realm, unsigned urlen,
    struct propctx *propctx)
{
	struct sasl_sess	*s = ctx;
	char			*a, *b;
	int			 ok;

	a = normalize_user(req, rlen, s->domain);
	b = normalize_user(auth, alen, s->domain);
	ok = a != NULL && b != NULL && strcmp(a, b) == 0;
	free(a);
	free(b);
	if (!ok) {
		sasl_seterror(conn, 0, "authzid not allowed for this user");
		return SASL_BADAUTH;
	}
	return SASL_OK;
}

static void
load_secret(void)
{
	void	*v;
	size_t	 len;

	if (store_is_open() && store_kv_get("meta", "", "", "sasl-secret",
	    &v, &len) == 0) {
		if (len == SECRET_LEN) {
			memcpy(secret, v, SECRET_LEN);
			free(v);
			return;
		}
		free(v);
	}
	if (RAND_bytes(secret, SECRET_LEN) != 1)
		fatalx("sasl: RAND_bytes failed");
	if (store_is_open())
		store_kv_put("meta", "", "", "sasl-secret", secret,
		    SECRET_LEN);
}

int
sasl_init(void)
{
	int	rc;

	if (initialised)
		return 0;
	if ((rc = sasl_server_init(global_cbs, TERN_SASL_APP)) != SASL_OK) {
		log_warnx("sasl: sasl_server_init: %s",
		    sasl_errstring(rc, NULL, NULL));
		return -1;
	}
	if ((rc = sasl_auxprop_add_plugin(AUX_NAME, aux_init)) != SASL_OK) {
		log_warnx("sasl: cannot add auxprop plugin: %s",
		    sasl_errstring(rc, NULL, NULL));
		sasl_server_done();
		return -1;
	}
	load_secret();
	initialised = 1;
	return 0;
}

void
sasl_done(void)
{
	if (!initialised)
		return;
	sasl_server_done();
	OPENSSL_cleanse(secret, sizeof(secret));
	initialised = 0;
}

void
sasl_set_iterations(unsigned n)
{
	fake_iterations = n;
}

/* Sets the binding named type on the conn; 0, or -1 if unavailable. */
static int
set_binding(struct sasl_sess *s, const char *type, int critical)
{
	sasl_channel_binding_t	*b = &s->cb.binding;

	if (!s->has_cb)
		return -1;
	if (strcmp(type, "tls-exporter") == 0 && s->cb.data.has_exporter) {
		b->data = s->cb.data.exporter;
		b->len = sizeof(s->cb.data.exporter);
	} else if (strcmp(type, "tls-server-end-point") == 0 &&
	    s->cb.data.endpoint_len > 0) {
		b->data = s->cb.data.endpoint;
		b->len = s->cb.data.endpoint_len;
	} else if (strcmp(type, "tls-unique") == 0 &&
	    s->cb.data.unique_len > 0) {
		b->data = s->cb.data.unique;
		b->len = s->cb.data.unique_len;
	} else
		return -1;
	b->name = strcmp(type, "tls-exporter") == 0 ? "tls-exporter" :
	    strcmp(type, "tls-unique") == 0 ? "tls-unique" :
	    "tls-server-end-point";
	b->critical = critical;
	/* libsasl2 keeps the pointer: b lives as long as the session. */
	return sasl_setprop(s->conn, SASL_CHANNEL_BINDING, b) == SASL_OK ?
	    0 : -1;
}

struct sasl_sess *
sasl_sess_new(const char *domain, unsigned tls_bits,
    const struct sasl_cbdata *cb)
{
	struct sasl_sess	*s;
	sasl_security_properties_t sec;
	sasl_ssf_t		 ssf = tls_bits;
	const char		*list;
	unsigned		 plen;
	int			 n, rc;

	s = xcalloc(1, sizeof(*s));
	s->domain = xstrdup(domain);
	s->callbacks[0] = (sasl_callback_t){ SASL_CB_SERVER_USERDB_CHECKPASS,
	    SASL_CB_FN(checkpass_cb), s };
	s->callbacks[1] = (sasl_callback_t){ SASL_CB_PROXY_POLICY,
	    SASL_CB_FN(proxy_cb), s };
	s->callbacks[2] = (sasl_callback_t){ SASL_CB_LIST_END, NULL, NULL };
	rc = sasl_server_new("xmpp", domain, NULL, NULL, NULL, s->callbacks,
	    SASL_SUCCESS_DATA, &s->conn);
	if (rc != SASL_OK)
		goto fail;
	memset(&sec, 0, sizeof(sec));
	sec.security_flags = SASL_SEC_NOANONYMOUS | SASL_SEC_NOPLAINTEXT;
	if ((rc = sasl_setprop(s->conn, SASL_SEC_PROPS, &sec)) != SASL_OK ||
	    (tls_bits > 0 && (rc = sasl_setprop(s->conn, SASL_SSF_EXTERNAL,
	    &ssf)) != SASL_OK))
		goto fail;
	if (cb != NULL) {
		s->cb.data = *cb;
		s->has_cb = 1;
		if (set_binding(s, cb->has_exporter ? "tls-exporter" :
		    "tls-server-end-point", 0) == -1)
			s->has_cb = 0;
	}
	if ((rc = sasl_listmech(s->conn, NULL, "", " ", "", &list, &plen,
	    &n)) != SASL_OK)
		goto fail;
	s->mechs = xstrndup(list, plen);
	return s;
 fail:
	log_warnx("sasl: cannot set up a session for %s: %s (%d)", domain,
	    sasl_errstring(rc, NULL, NULL), rc);
	sasl_sess_free(s);
	return NULL;
}

void
sasl_sess_free(struct sasl_sess *s)
{
	if (s == NULL)
		return;
	if (s->conn != NULL)
		sasl_dispose(&s->conn);
	OPENSSL_cleanse(&s->cb.data, sizeof(s->cb.data));
	free(s->domain);
	free(s->mechs);
	free(s->out);
	free(s->user);
	free(s->attempted);
	free(s);
}

const char *
sasl_sess_mechs(struct sasl_sess *s)
{
	return s->mechs;
}

int
sasl_sess_cb_types(struct sasl_sess *s, const char *names[3])
{
	int	n = 0;

	if (!s->has_cb)
		return 0;
	if (s->cb.data.has_exporter)
		names[n++] = "tls-exporter";
	if (s->cb.data.endpoint_len > 0)
		names[n++] = "tls-server-end-point";
	if (s->cb.data.unique_len > 0)
		names[n++] = "tls-unique";
	return n;
}

/* Decodes b64 (NULL: no data; "=": empty) into a new buffer. */
static int
decode(const char *b64, unsigned char **buf, size_t *len)
{
	size_t	l;
	int	n;

	*buf = NULL;
	*len = 0;
	if (b64 == NULL || strcmp(b64, "=") == 0 || *b64 == '\0')
		return 0;
	l = strlen(b64);
	if (l > B64_MAX || l % 4 != 0)
		return -1;
	*buf = xmalloc(l / 4 * 3 + 1);
	if ((n = EVP_DecodeBlock(*buf, (const unsigned char *)b64,
	    (int)l)) < 0) {
		free(*buf);
		*buf = NULL;
		return -1;
	}
	if (b64[l - 1] == '=')
		n--;
	if (b64[l - 2] == '=')
		n--;
	*len = (size_t)n;
	return 0;
}

static const char *
set_out(struct sasl_sess *s, const char *data, unsigned len, int empty_eq)
{
	free(s->out);
	if (len == 0) {
		s->out = xstrdup(empty_eq ? "=" : "");
		return s->out;
	}
	s->out = xmalloc(4 * ((len + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)s->out, (const unsigned char *)data,
	    (int)len);
	return s->out;
}

static enum sasl_step
result(struct sasl_sess *s, int rc, const char *data, unsigned len,
    const char **out)
{
	const void	*u;

	switch (rc) {
	case SASL_CONTINUE:
		*out = set_out(s, data, len, 1);
		return SASL_STEP_CONTINUE;
	case SASL_OK:
		if (sasl_getprop(s->conn, SASL_USERNAME, &u) != SASL_OK ||
		    u == NULL || (s->user = normalize_user(u, strlen(u),
		    s->domain)) == NULL) {
			*out = "not-authorized";
			return SASL_STEP_FAILURE;
		}
		*out = set_out(s, data, len, 0);
		return SASL_STEP_SUCCESS;
	case SASL_BADPROT:
		log_debug("sasl: %s", sasl_errdetail(s->conn));
		*out = "malformed-request";
		return SASL_STEP_FAILURE;
	default:
		/* Log the code: the text may mislead (notes, pitfall 12). */
		log_debug("sasl: %s (%d)", sasl_errdetail(s->conn), rc);
		*out = "not-authorized";
		return SASL_STEP_FAILURE;
	}
}

/* Whether mech is one of the offered, space-separated names. */
static int
offered(const char *list, const char *mech)
{
	size_t		 ml = strlen(mech);
	const char	*p = list;

	while ((p = strstr(p, mech)) != NULL) {
		if ((p == list || p[-1] == ' ') &&
		    (p[ml] == ' ' || p[ml] == '\0'))
			return 1;
		p += ml;
	}
	return 0;
}

/*
 * For a -PLUS mechanism: bind the type the client names in its GS2
 * header ("p=<type>,") and make binding critical, so that a client that
 * sends "n" or "y" fails (libsasl2 alone would accept it).
 */
static int
plus_binding(struct sasl_sess *s, const unsigned char *in, size_t len)
{
	char		 type[32];
	const char	*comma;

	if (len < 3 || in[0] != 'p' || in[1] != '=' ||
	    (comma = memchr(in + 2, ',', len - 2)) == NULL ||
	    (size_t)(comma - (const char *)in - 2) >= sizeof(type))
		return -1;
	memcpy(type, in + 2, (size_t)(comma - (const char *)in - 2));
	type[comma - (const char *)in - 2] = '\0';
	return set_binding(s, type, 1);
}

enum sasl_step
sasl_sess_start(struct sasl_sess *s, const char *mech, const char *b64in,
    const char **out)
{
	unsigned char	*in;
	size_t		 inlen, ml = strlen(mech);
	const char	*data;
	unsigned	 dlen;
	int		 rc;

	if (!offered(s->mechs, mech)) {
		*out = strcmp(mech, "PLAIN") == 0 ? "encryption-required" :
		    "invalid-mechanism";
		return SASL_STEP_FAILURE;
	}
	if (decode(b64in, &in, &inlen) == -1) {
		*out = "incorrect-encoding";
		return SASL_STEP_FAILURE;
	}
	/* RFC 6120 6.4.2: the GS2 header may come in the first response. */
	if (ml > 5 && strcmp(mech + ml - 5, "-PLUS") == 0 && b64in == NULL)
		s->plus_pending = 1;
	else if (ml > 5 && strcmp(mech + ml - 5, "-PLUS") == 0 &&
	    plus_binding(s, in, inlen) == -1) {
		free(in);
		*out = "not-authorized";
		return SASL_STEP_FAILURE;
	}
	cur = s;
	rc = sasl_server_start(s->conn, mech, (const char *)in,
	    (unsigned)inlen, &data, &dlen);
	cur = NULL;
	if (in != NULL) {
		OPENSSL_cleanse(in, inlen);
		free(in);
	}
	return result(s, rc, data, dlen, out);
}

enum sasl_step
sasl_sess_step(struct sasl_sess *s, const char *b64in, const char **out)
{
	unsigned char	*in;
	size_t		 inlen;
	const char	*data;
	unsigned	 dlen;
	int		 rc;

	if (decode(b64in, &in, &inlen) == -1) {
		*out = "incorrect-encoding";
		return SASL_STEP_FAILURE;
	}
	if (s->plus_pending) {
		s->plus_pending = 0;
		if (plus_binding(s, in, inlen) == -1) {
			free(in);
			*out = "not-authorized";
			return SASL_STEP_FAILURE;
		}
	}
	cur = s;
	rc = sasl_server_step(s->conn, (const char *)in, (unsigned)inlen,
	    &data, &dlen);
	cur = NULL;
	if (in != NULL) {
		OPENSSL_cleanse(in, inlen);
		free(in);
	}
	return result(s, rc, data, dlen, out);
}

const char *
sasl_sess_user(struct sasl_sess *s)
{
	return s->user;
}

const char *
sasl_sess_attempted_user(struct sasl_sess *s)
{
	return s->attempted;
}
