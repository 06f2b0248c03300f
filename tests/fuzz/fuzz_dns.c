/*
 * libFuzzer target: the SRV answer parser (s2s_dns.c), whose input comes
 * from the network.  Whatever the bytes, parsing must stay inside them,
 * never write more records than there is room for, and give every record
 * a NUL-terminated host; ordering what it found must keep the records.
 * A broken rule aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s2s_dns.h"

#define ROOM	4

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(int ok, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz_dns: %s\n", what);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct s2s_srv	v[ROOM + 1];
	unsigned char	*m;
	size_t		 n = 0, i, before;
	int		 nx = 0, rc;

	/* An exact-size copy, so ASan sees any read past the end. */
	m = malloc(size > 0 ? size : 1);
	if (m == NULL)
		return 0;
	memcpy(m, data, size);
	memset(v, 0xa5, sizeof(v));
	rc = s2s_dns_parse_srv(m, size, 1, v, ROOM, &n, &nx);
	check(rc == 0 || rc == -1, "result is 0 or -1");
	check(n <= ROOM, "more records than room");
	check(((unsigned char *)&v[ROOM])[0] == 0xa5, "wrote past the room");
	for (i = 0; i < n; i++) {
		check(memchr(v[i].host, '\0', sizeof(v[i].host)) != NULL,
		    "host not terminated");
		check(v[i].prio < 65536 && v[i].weight < 65536 &&
		    v[i].port < 65536, "16-bit fields");
		check(v[i].tls == 1, "tls flag kept");
	}
	before = n;
	s2s_dns_order(v, n);
	for (i = 1; i < n; i++)
		check(v[i - 1].prio <= v[i].prio, "ordered by priority");
	check(n == before, "order keeps the records");
	free(m);
	return 0;
}
