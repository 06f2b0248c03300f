/*
 * Connections per client address: max_connections_per_address bounds
 * how many streams one address (IPv6: one /64) may hold open at once.
 */
#ifndef TERN_PEER_H
#define TERN_PEER_H

#include <sys/socket.h>

#define PEER_KEY_LEN	48

/*
 * Counts a new connection from sa: 0 (key filled in for peer_release),
 * or -1 when the address is at its limit (logged, at most once a minute).
 */
int	peer_admit(const struct sockaddr *sa, char key[PEER_KEY_LEN]);
void	peer_release(const char *key);

#endif
