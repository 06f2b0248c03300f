/*
 * Account records and SCRAM key derivation (RFC 5802, RFC 7677): the
 * salted password is PBKDF2(SASLprep(password), salt, i); StoredKey =
 * H(HMAC(SaltedPassword, "Client Key")); ServerKey = HMAC(SaltedPassword,
 * "Server Key").  Shared by ternctl (writing) and sasl.c (PLAIN checks).
 */
#include <stdlib.h>
#include <string.h>
#include <stringprep.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "account.h"
#include "log.h"
#include "store.h"
#include "xmalloc.h"

#define SALT_LEN	16

static const struct scram_hash {
	const char	*scheme;
	const char	*md;
} scram_hashes[] = {
	{ "SCRAM-SHA-256", "SHA256" },
	{ "SCRAM-SHA-1", "SHA1" },
};
#define NHASHES	(sizeof(scram_hashes) / sizeof(scram_hashes[0]))

/* StoredKey and ServerKey for one hash; key lengths = digest size. */
static int
derive(const EVP_MD *md, const char *pw, size_t pwlen,
    const unsigned char *salt, size_t saltlen, unsigned iter,
    unsigned char *stored, unsigned char *server)
{
	unsigned char	 salted[EVP_MAX_MD_SIZE], ckey[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = (unsigned)EVP_MD_get_size(md), l;
	int		 ok;

	ok = PKCS5_PBKDF2_HMAC(pw, (int)pwlen, salt, (int)saltlen,
	    (int)iter, md, (int)mdlen, salted) == 1 &&
	    HMAC(md, salted, (int)mdlen, (const unsigned char *)"Client Key",
	    10, ckey, &l) != NULL &&
	    EVP_Digest(ckey, mdlen, stored, &l, md, NULL) == 1 &&
	    HMAC(md, salted, (int)mdlen, (const unsigned char *)"Server Key",
	    10, server, &l) != NULL;
	OPENSSL_cleanse(salted, sizeof(salted));
	OPENSSL_cleanse(ckey, sizeof(ckey));
	return ok ? 0 : -1;
}

static char *
b64(const unsigned char *p, size_t len)
{
	char	*out = xmalloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, p, (int)len);
	return out;
}

/* Decodes base64 into out (size outlen); returns the length or -1. */
static int
unb64(const char *s, size_t slen, unsigned char *out, size_t outlen)
{
	unsigned char	buf[256];
	int		n;

	if (slen == 0 || slen % 4 != 0 || slen / 4 * 3 > sizeof(buf))
		return -1;
	if ((n = EVP_DecodeBlock(buf, (const unsigned char *)s,
	    (int)slen)) < 0)
		return -1;
	if (slen >= 1 && s[slen - 1] == '=')
		n--;
	if (slen >= 2 && s[slen - 2] == '=')
		n--;
	if ((size_t)n > outlen)
		return -1;
	memcpy(out, buf, (size_t)n);
	return n;
}

static char *
saslprep(const char *password)
{
	char	*out = NULL;

	if (stringprep_profile(password, &out, "SASLprep", 0) !=
	    STRINGPREP_OK || out == NULL || *out == '\0') {
		free(out);
		return NULL;
	}
	return out;
}

int
account_password_ok(const char *password)
{
	char	*pw;

	if ((pw = saslprep(password)) == NULL)
		return 0;
	OPENSSL_cleanse(pw, strlen(pw));
	free(pw);
	return 1;
}

char *
account_make_authpw(const char *password, unsigned iterations)
{
	unsigned char	 salt[SALT_LEN], stored[EVP_MAX_MD_SIZE];
	unsigned char	 server[EVP_MAX_MD_SIZE];
	char		*pw, *out = NULL, *line, *s, *k1, *k2;
	const EVP_MD	*md;
	size_t		 i;

	if ((pw = saslprep(password)) == NULL)
		return NULL;
	if (RAND_bytes(salt, sizeof(salt)) != 1)
		fatalx("account: RAND_bytes failed");
	s = b64(salt, sizeof(salt));
	for (i = 0; i < NHASHES; i++) {
		md = EVP_get_digestbyname(scram_hashes[i].md);
		if (md == NULL || derive(md, pw, strlen(pw), salt,
		    sizeof(salt), iterations, stored, server) == -1)
			fatalx("account: cannot derive %s keys",
			    scram_hashes[i].scheme);
		k1 = b64(stored, (size_t)EVP_MD_get_size(md));
		k2 = b64(server, (size_t)EVP_MD_get_size(md));
		xasprintf(&line, "%s%s%s$%u:%s$%s:%s", out ? out : "",
		    out ? "\n" : "", scram_hashes[i].scheme, iterations, s,
		    k1, k2);
		free(out);
		free(k1);
		free(k2);
		out = line;
	}
	OPENSSL_cleanse(pw, strlen(pw));
	free(pw);
	free(s);
	return out;
}

/* Finds the line of scheme in authpw; its value part in *v, *vlen. */
static int
find_line(const char *authpw, const char *scheme, const char **v,
    size_t *vlen)
{
	size_t		 sl = strlen(scheme);
	const char	*p = authpw, *nl;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		if (nl == NULL)
			nl = p + strlen(p);
		if ((size_t)(nl - p) > sl && strncmp(p, scheme, sl) == 0 &&
		    p[sl] == '$') {
			*v = p + sl + 1;
			*vlen = (size_t)(nl - *v);
			return 0;
		}
		p = *nl ? nl + 1 : nl;
	}
	return -1;
}

/* Checks password against one "<i>:<salt>$<stored>:<server>" value. */
static int
check_one(const struct scram_hash *h, const char *v, size_t vlen,
    const char *pw)
{
	unsigned char	 salt[128], want[EVP_MAX_MD_SIZE];
	unsigned char	 stored[EVP_MAX_MD_SIZE], server[EVP_MAX_MD_SIZE];
	const char	*colon, *dollar, *colon2, *end = v + vlen;
	const EVP_MD	*md = EVP_get_digestbyname(h->md);
	unsigned long	 iter;
	char		*ep;
	int		 saltlen, mdlen, wl;

	if (md == NULL)
		return -1;
	mdlen = EVP_MD_get_size(md);
	iter = strtoul(v, &ep, 10);
	colon = ep;
	if (colon >= end || *colon != ':' || iter == 0 || iter > 10000000 ||
	    (dollar = memchr(colon, '$', (size_t)(end - colon))) == NULL ||
	    (colon2 = memchr(dollar, ':', (size_t)(end - dollar))) == NULL)
		return -1;
	saltlen = unb64(colon + 1, (size_t)(dollar - colon - 1), salt,
	    sizeof(salt));
	wl = unb64(dollar + 1, (size_t)(colon2 - dollar - 1), want,
	    sizeof(want));
	if (saltlen <= 0 || wl != mdlen)
		return -1;
	if (derive(md, pw, strlen(pw), salt, (size_t)saltlen,
	    (unsigned)iter, stored, server) == -1)
		return -1;
	return CRYPTO_memcmp(stored, want, (size_t)mdlen) == 0 ? 0 : -1;
}

int
account_check_password(const char *authpw, const char *password,
    size_t passlen)
{
	const char	*v;
	char		*raw, *pw;
	size_t		 vlen, i;
	int		 rc = -1;

	if (memchr(password, '\0', passlen) != NULL)
		return -1;
	raw = xstrndup(password, passlen);
	pw = saslprep(raw);
	OPENSSL_cleanse(raw, passlen);
	free(raw);
	if (pw == NULL)
		return -1;
	for (i = 0; i < NHASHES; i++)
		if (find_line(authpw, scram_hashes[i].scheme, &v, &vlen) == 0) {
			rc = check_one(&scram_hashes[i], v, vlen, pw);
			break;
		}
	OPENSSL_cleanse(pw, strlen(pw));
	free(pw);
	return rc;
}

static int
store_authpw(const char *host, const char *user, const char *password,
    unsigned iterations)
{
	char	*authpw;
	int	 rc;

	if ((authpw = account_make_authpw(password, iterations)) == NULL)
		return -1;
	rc = store_kv_put(ACCOUNT_DB, host, user, "", authpw, strlen(authpw));
	free(authpw);
	return rc;
}

int
account_create(const char *host, const char *user, const char *password,
    unsigned iterations)
{
	int	rc;

	if ((rc = account_exists(host, user)) != 0)
		return rc == 1 ? 1 : -1;
	return store_authpw(host, user, password, iterations);
}

int
account_set_password(const char *host, const char *user,
    const char *password, unsigned iterations)
{
	int	rc;

	if ((rc = account_exists(host, user)) != 1)
		return rc == 0 ? 1 : -1;
	return store_authpw(host, user, password, iterations);
}

int
account_delete(const char *host, const char *user)
{
	return store_kv_del(ACCOUNT_DB, host, user, "");
}

int
account_exists(const char *host, const char *user)
{
	char	*v;
	int	 rc;

	if ((rc = account_get(host, user, &v)) == 0)
		free(v);
	return rc == 0 ? 1 : rc == 1 ? 0 : -1;
}

int
account_get(const char *host, const char *user, char **authpw)
{
	void	*v;
	size_t	 len;
	int	 rc;

	if ((rc = store_kv_get(ACCOUNT_DB, host, user, "", &v, &len)) == 0)
		*authpw = v;
	return rc;
}

struct each_arg {
	void	(*fn)(const char *, void *);
	void	*arg;
};

static int
each_cb(const char *user, const char *key, const void *val, size_t len,
    void *arg)
{
	struct each_arg	*ea = arg;

	if (*key == '\0')
		ea->fn(user, ea->arg);
	return 0;
}

int
account_each(const char *host, void (*fn)(const char *, void *), void *arg)
{
	struct each_arg	ea = { fn, arg };

	return store_kv_each(ACCOUNT_DB, host, each_cb, &ea);
}
