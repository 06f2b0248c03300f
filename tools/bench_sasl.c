/*
 * tern-bench: the client side of SASL PLAIN (RFC 4616) and SCRAM-SHA-1 /
 * SCRAM-SHA-256 (RFC 5802, RFC 7677), without channel binding.  PBKDF2
 * is what makes a SCRAM login expensive for a client, so salted
 * passwords are cached per (hash, salt, iterations) for the one password
 * of a run, and optionally kept in a file across runs (--scram-cache):
 * the server's cost of a login is what a benchmark measures.
 * The conn owns its struct scram until sasl_free().
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "bench.h"

#define CACHE_BUCKETS	65536
#define SALT_MAX	128

struct scram {
	const EVP_MD	*md;
	int		 mdlen;
	char		*first_bare;
	char		 cnonce[40];
	unsigned char	 server_sig[EVP_MAX_MD_SIZE];
	int		 step;		/* 1: final sent, 2: verified */
};

struct salted {
	struct salted	*next;
	int		 nid;
	unsigned	 iter;
	size_t		 saltlen;
	unsigned char	 salt[SALT_MAX];
	unsigned char	 key[EVP_MAX_MD_SIZE];
	int		 fresh;		/* not yet in the cache file */
};

static struct salted	*cache[CACHE_BUCKETS];

static const struct {
	enum mech	 mech;
	const char	*name;
	unsigned	 feature;
} mechs[] = {
	{ MECH_PLAIN, "PLAIN", F_PLAIN },
	{ MECH_SCRAM_SHA1, "SCRAM-SHA-1", F_SCRAM_SHA1 },
	{ MECH_SCRAM_SHA256, "SCRAM-SHA-256", F_SCRAM_SHA256 },
};

const char *
mech_name(enum mech m)
{
	return mechs[m].name;
}

unsigned
mech_feature(enum mech m)
{
	return mechs[m].feature;
}

static void *
xmalloc(size_t n)
{
	void	*p;

	if ((p = malloc(n)) == NULL) {
		fprintf(stderr, "tern-bench: out of memory\n");
		exit(1);
	}
	return p;
}

static char *
b64(const unsigned char *in, size_t len)
{
	char	*out = xmalloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	return out;
}

/* Decodes base64 into out (at most max bytes); length or -1. */
static int
unb64(const char *in, unsigned char *out, size_t max)
{
	size_t	 len = strlen(in), pad = 0;
	int	 n;

	if (len == 1 && in[0] == '=')
		return 0;
	if (len % 4 != 0 || len / 4 * 3 > max)
		return -1;
	if (len == 0)
		return 0;
	if (in[len - 1] == '=')
		pad++;
	if (in[len - 2] == '=')
		pad++;
	if ((n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len)) < 0)
		return -1;
	return n - (int)pad;
}

static unsigned
hash(int nid, unsigned iter, const unsigned char *salt, size_t len)
{
	uint32_t	h = 2166136261u ^ (uint32_t)nid ^ (iter << 8);
	size_t		i;

	for (i = 0; i < len; i++)
		h = (h ^ salt[i]) * 16777619u;
	return h % CACHE_BUCKETS;
}

static struct salted *
cache_find(int nid, unsigned iter, const unsigned char *salt, size_t len)
{
	struct salted	*s;

	for (s = cache[hash(nid, iter, salt, len)]; s != NULL; s = s->next)
		if (s->nid == nid && s->iter == iter && s->saltlen == len &&
		    memcmp(s->salt, salt, len) == 0)
			return s;
	return NULL;
}

static struct salted *
cache_add(int nid, unsigned iter, const unsigned char *salt, size_t len)
{
	struct salted	*s = calloc(1, sizeof(*s));
	unsigned	 h = hash(nid, iter, salt, len);

	if (s == NULL) {
		fprintf(stderr, "tern-bench: out of memory\n");
		exit(1);
	}
	s->nid = nid;
	s->iter = iter;
	s->saltlen = len;
	memcpy(s->salt, salt, len);
	s->next = cache[h];
	cache[h] = s;
	return s;
}

/* The salted password: from the cache, else PBKDF2 (then cached). */
static const unsigned char *
salted_password(const EVP_MD *md, unsigned iter, const unsigned char *salt,
    size_t len)
{
	struct salted	*s;
	int		 nid = EVP_MD_get_type(md);

	if ((s = cache_find(nid, iter, salt, len)) != NULL)
		return s->key;
	s = cache_add(nid, iter, salt, len);
	if (PKCS5_PBKDF2_HMAC(opt.password, (int)strlen(opt.password), salt,
	    (int)len, (int)iter, md, EVP_MD_get_size(md), s->key) != 1)
		return NULL;
	s->fresh = 1;
	return s->key;
}

/* user with ',' and '=' escaped as RFC 5802 saslname wants. */
static void
saslname(const char *user, char *out, size_t len)
{
	size_t	o = 0;

	for (; *user != '\0' && o + 4 < len; user++) {
		if (*user == ',') {
			memcpy(out + o, "=2C", 3);
			o += 3;
		} else if (*user == '=') {
			memcpy(out + o, "=3D", 3);
			o += 3;
		} else
			out[o++] = *user;
	}
	out[o] = '\0';
}

char *
sasl_start(struct conn *c, const char *user)
{
	unsigned char	 rnd[24];
	char		 buf[1200], name[600], *nonce;
	size_t		 ulen = strlen(user), plen = strlen(opt.password);
	struct scram	*s;

	if (opt.mech == MECH_PLAIN) {
		if (ulen + plen + 2 > sizeof(buf))
			return NULL;
		buf[0] = '\0';
		memcpy(buf + 1, user, ulen);
		buf[ulen + 1] = '\0';
		memcpy(buf + ulen + 2, opt.password, plen);
		return b64((unsigned char *)buf, ulen + plen + 2);
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL || RAND_bytes(rnd, sizeof(rnd)) != 1)
		return NULL;
	s->md = opt.mech == MECH_SCRAM_SHA1 ? EVP_sha1() : EVP_sha256();
	s->mdlen = EVP_MD_get_size(s->md);
	nonce = b64(rnd, sizeof(rnd));
	snprintf(s->cnonce, sizeof(s->cnonce), "%s", nonce);
	free(nonce);
	saslname(user, name, sizeof(name));
	snprintf(buf, sizeof(buf), "n=%s,r=%s", name, s->cnonce);
	s->first_bare = strdup(buf);
	sasl_free(c);
	c->scram = s;
	snprintf(buf, sizeof(buf), "n,,%s", s->first_bare);
	return b64((unsigned char *)buf, strlen(buf));
}

/* The value of attribute a ("r", "s", "i") in a SCRAM message. */
static const char *
attr(const char *msg, char a, char *out, size_t len)
{
	const char	*p = msg;
	size_t		 n;

	while (p != NULL && *p != '\0') {
		if (p[0] == a && p[1] == '=') {
			n = strcspn(p + 2, ",");
			if (n >= len)
				return NULL;
			memcpy(out, p + 2, n);
			out[n] = '\0';
			return out;
		}
		if ((p = strchr(p, ',')) != NULL)
			p++;
	}
	return NULL;
}

static int
hmac(const EVP_MD *md, const unsigned char *key, int klen, const void *d,
    size_t dlen, unsigned char *out)
{
	return HMAC(md, key, klen, d, dlen, out, NULL) == NULL ? -1 : 0;
}

/* Builds client-final from server-first (decoded into sfirst). */
static char *
scram_final(struct scram *s, const char *sfirst, const char **err)
{
	char		 nonce[256], salt64[256], iters[16], fin[512];
	char		 auth[1400], *proof64, *out, *ep;
	unsigned char	 salt[SALT_MAX], ck[EVP_MAX_MD_SIZE];
	unsigned char	 sk[EVP_MAX_MD_SIZE], sig[EVP_MAX_MD_SIZE];
	unsigned char	 skey[EVP_MAX_MD_SIZE];
	const unsigned char *sp;
	unsigned long	 iter;
	int		 saltlen, i;

	*err = "sasl-bad-server-first";
	if (attr(sfirst, 'r', nonce, sizeof(nonce)) == NULL ||
	    attr(sfirst, 's', salt64, sizeof(salt64)) == NULL ||
	    attr(sfirst, 'i', iters, sizeof(iters)) == NULL ||
	    strncmp(nonce, s->cnonce, strlen(s->cnonce)) != 0)
		return NULL;
	iter = strtoul(iters, &ep, 10);
	if (*ep != '\0' || iter == 0 || iter > 10000000 ||
	    (saltlen = unb64(salt64, salt, sizeof(salt))) <= 0)
		return NULL;
	*err = "sasl-client";
	if ((sp = salted_password(s->md, (unsigned)iter, salt,
	    (size_t)saltlen)) == NULL)
		return NULL;
	snprintf(fin, sizeof(fin), "c=biws,r=%s", nonce);
	snprintf(auth, sizeof(auth), "%s,%s,%s", s->first_bare, sfirst, fin);
	if (hmac(s->md, sp, s->mdlen, "Client Key", 10, ck) == -1 ||
	    EVP_Digest(ck, (size_t)s->mdlen, sk, NULL, s->md, NULL) != 1 ||
	    hmac(s->md, sk, s->mdlen, auth, strlen(auth), sig) == -1 ||
	    hmac(s->md, sp, s->mdlen, "Server Key", 10, skey) == -1 ||
	    hmac(s->md, skey, s->mdlen, auth, strlen(auth), s->server_sig) ==
	    -1)
		return NULL;
	for (i = 0; i < s->mdlen; i++)
		ck[i] ^= sig[i];
	proof64 = b64(ck, (size_t)s->mdlen);
	snprintf(auth, sizeof(auth), "%s,p=%s", fin, proof64);
	free(proof64);
	out = b64((unsigned char *)auth, strlen(auth));
	s->step = 1;
	return out;
}

/* Checks "v=..." against the expected server signature; 0 or -1. */
static int
scram_check(struct scram *s, const char *msg)
{
	char	 v[256], *want;
	int	 ok;

	if (attr(msg, 'v', v, sizeof(v)) == NULL)
		return -1;
	want = b64(s->server_sig, (size_t)s->mdlen);
	ok = strcmp(want, v) == 0;
	free(want);
	if (ok)
		s->step = 2;
	return ok ? 0 : -1;
}

/* Answers a challenge; base64 response (caller frees) or NULL + *err. */
char *
sasl_step(struct conn *c, const char *b64in, const char **err)
{
	unsigned char	 msg[TEXT_MAX];
	int		 n;

	*err = "sasl-unexpected-challenge";
	if (c->scram == NULL || c->scram->step == 2)
		return NULL;
	if ((n = unb64(b64in, msg, sizeof(msg) - 1)) < 0) {
		*err = "sasl-bad-base64";
		return NULL;
	}
	msg[n] = '\0';
	if (c->scram->step == 0)
		return scram_final(c->scram, (char *)msg, err);
	/* Some servers send server-final as a challenge, then success. */
	if (scram_check(c->scram, (char *)msg) == -1) {
		*err = "sasl-bad-server-signature";
		return NULL;
	}
	return strdup("");
}

/* Checks the additional data of <success/>; 0 or -1. */
int
sasl_verify(struct conn *c, const char *b64in)
{
	unsigned char	msg[TEXT_MAX];
	int		n;

	if (c->scram == NULL)
		return opt.mech == MECH_PLAIN ? 0 : -1;
	if (c->scram->step == 2)
		return 0;
	if (c->scram->step != 1 ||
	    (n = unb64(b64in, msg, sizeof(msg) - 1)) <= 0)
		return -1;
	msg[n] = '\0';
	return scram_check(c->scram, (char *)msg);
}

void
sasl_free(struct conn *c)
{
	if (c->scram == NULL)
		return;
	free(c->scram->first_bare);
	free(c->scram);
	c->scram = NULL;
}

/* --- the cache file: "nid iter salt pwhash key" in hex, one a line --- */

static void
hex(const unsigned char *b, size_t n, char *out)
{
	size_t	i;

	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static int
hexdigit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int
unhex(const char *s, unsigned char *out, size_t max)
{
	size_t	n = strlen(s), i;
	int	hi, lo;

	if (n % 2 != 0 || n / 2 > max)
		return -1;
	for (i = 0; i < n / 2; i++) {
		if ((hi = hexdigit(s[2 * i])) < 0 ||
		    (lo = hexdigit(s[2 * i + 1])) < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return (int)(n / 2);
}

static void
pw_fingerprint(char *out)
{
	unsigned char	d[32];

	EVP_Digest(opt.password, strlen(opt.password), d, NULL, EVP_sha256(),
	    NULL);
	hex(d, 16, out);
}

void
sasl_cache_load(const char *path)
{
	FILE		*f;
	char		 line[1024], salth[300], pwh[80], keyh[200], mine[40];
	unsigned char	 salt[SALT_MAX];
	struct salted	*s;
	unsigned	 iter;
	int		 nid, sl;

	if ((f = fopen(path, "r")) == NULL)
		return;
	pw_fingerprint(mine);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%d %u %299s %79s %199s", &nid, &iter, salth,
		    pwh, keyh) != 5 || strcmp(pwh, mine) != 0 ||
		    (sl = unhex(salth, salt, sizeof(salt))) <= 0 ||
		    cache_find(nid, iter, salt, (size_t)sl) != NULL)
			continue;
		s = cache_add(nid, iter, salt, (size_t)sl);
		if (unhex(keyh, s->key, sizeof(s->key)) <= 0)
			memset(s->key, 0, sizeof(s->key));
	}
	fclose(f);
}

/* Appends what this process computed; lines are written whole. */
void
sasl_cache_save(const char *path)
{
	struct salted	*s;
	char		 line[1024], salth[300], keyh[200], mine[40];
	size_t		 i;
	int		 fd, len;

	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0600)) == -1) {
		fprintf(stderr, "tern-bench: %s: cannot write the SCRAM "
		    "cache\n", path);
		return;
	}
	pw_fingerprint(mine);
	for (i = 0; i < CACHE_BUCKETS; i++)
		for (s = cache[i]; s != NULL; s = s->next) {
			if (!s->fresh)
				continue;
			hex(s->salt, s->saltlen, salth);
			hex(s->key, (size_t)EVP_MD_get_size(
			    EVP_get_digestbynid(s->nid)), keyh);
			len = snprintf(line, sizeof(line), "%d %u %s %s %s\n",
			    s->nid, s->iter, salth, mine, keyh);
			if (write(fd, line, (size_t)len) != len)
				break;
			s->fresh = 0;
		}
	close(fd);
}
