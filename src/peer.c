/*
 * Per-address connection counts.  An entry lives while its address has
 * connections open, so the table is bounded by the connections held.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "htab.h"
#include "log.h"
#include "loop.h"
#include "peer.h"
#include "xmalloc.h"

#define LOG_EVERY	60	/* seconds between refusal lines per address */

struct peer {
	char		key[PEER_KEY_LEN];
	unsigned	n;
	time_t		logged;
};

static struct htab	peers;

static void
peer_key(const struct sockaddr *sa, char key[PEER_KEY_LEN])
{
	const struct sockaddr_in6	*s6 = (const void *)sa;
	const struct sockaddr_in	*s4 = (const void *)sa;
	struct in6_addr			 a;

	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &s4->sin_addr, key, PEER_KEY_LEN);
	} else if (sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
		inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], key,
		    PEER_KEY_LEN);
	} else if (sa->sa_family == AF_INET6) {
		/* One site gets a /64: count the prefix, not the address. */
		a = s6->sin6_addr;
		memset(&a.s6_addr[8], 0, 8);
		inet_ntop(AF_INET6, &a, key, PEER_KEY_LEN - 4);
		strncat(key, "/64", PEER_KEY_LEN - strlen(key) - 1);
	} else
		snprintf(key, PEER_KEY_LEN, "local");
}

int
peer_admit(const struct sockaddr *sa, char key[PEER_KEY_LEN])
{
	unsigned	 max = loop_limits()->conns_per_address;
	struct peer	*p;
	time_t		 now;

	peer_key(sa, key);
	if ((p = htab_get(&peers, key)) == NULL) {
		p = xcalloc(1, sizeof(*p));
		memcpy(p->key, key, PEER_KEY_LEN);
		htab_put(&peers, p->key, p);
	}
	if (max != 0 && p->n >= max) {
		now = time(NULL);
		if (now - p->logged >= LOG_EVERY) {
			log_warnx("refusing connections from %s: %u open "
			    "(max_connections_per_address)", key, p->n);
			p->logged = now;
		}
		return -1;
	}
	p->n++;
	return 0;
}

void
peer_release(const char *key)
{
	struct peer	*p;

	if (key[0] == '\0' || (p = htab_get(&peers, key)) == NULL)
		return;
	if (--p->n == 0) {
		htab_del(&peers, key);
		free(p);
	}
}
