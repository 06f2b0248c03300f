/*
 * A line-oriented XMPP client built on lib/ternclient.c, for the interop
 * tests (test_binary.py): it logs in, prints "ready JID WIRE", then
 * prints every stanza it receives as one line of XML (LF written as
 * &#10;) and sends every line of XML it reads on stdin.  "bytes" on
 * stdin prints "bytes OUT IN"; EOF or "quit" closes the stream.
 *
 * usage: binclient -p port -u user -w password [-H host] [-d domain]
 *        [-r resource] [-m xml|negotiate|dedicated] [-T]
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "tern/client.h"

#include "codec.h"
#include "stanza.h"

static void
usage(void)
{
	fprintf(stderr, "usage: binclient -p port -u user -w password "
	    "[-H host] [-d domain] [-r resource] "
	    "[-m xml|negotiate|dedicated] [-T]\n");
	exit(2);
}

static void
print_stanza(const struct stanza *st)
{
	struct evbuffer	*b = evbuffer_new();
	size_t		 len, i;
	char		*p;

	codec_xml_serialize(st, b, STANZA_NS_CLIENT);
	len = evbuffer_get_length(b);
	p = (char *)evbuffer_pullup(b, -1);
	for (i = 0; i < len; i++) {
		if (p[i] == '\n')
			fputs("&#10;", stdout);
		else
			putchar(p[i]);
	}
	putchar('\n');
	fflush(stdout);
	evbuffer_free(b);
}

/* One line from stdin: 1 to go on, 0 to stop. */
static int
handle_line(struct ternclient *c, char *line)
{
	struct stanza		*st;
	unsigned long long	 out, in;

	line[strcspn(line, "\r\n")] = '\0';
	if (strcmp(line, "quit") == 0)
		return 0;
	if (strcmp(line, "bytes") == 0) {
		ternclient_bytes(c, &out, &in);
		printf("bytes %llu %llu\n", out, in);
		fflush(stdout);
		return 1;
	}
	if (line[0] == '\0')
		return 1;
	if ((st = codec_xml_parse_one(line, strlen(line))) == NULL) {
		printf("error not XML: %s\n", line);
		fflush(stdout);
		return 1;
	}
	if (ternclient_send(c, st) == -1) {
		printf("error %s\n", ternclient_error(c));
		stanza_unref(st);
		return 0;
	}
	stanza_unref(st);
	return 1;
}

int
main(int argc, char *argv[])
{
	struct ternclient_opts	 o = {
		.host = "127.0.0.1", .domain = "localhost",
		.timeout_ms = 10000,
	};
	struct ternclient	*c;
	struct stanza		*st;
	struct pollfd		 pfd[2];
	char			 err[256], line[65536], *nl;
	size_t			 have = 0;
	ssize_t			 n;
	int			 ch, go = 1;

	while ((ch = getopt(argc, argv, "H:d:p:u:w:r:m:T")) != -1) {
		switch (ch) {
		case 'H': o.host = optarg; break;
		case 'd': o.domain = optarg; break;
		case 'p': o.port = atoi(optarg); break;
		case 'u': o.user = optarg; break;
		case 'w': o.password = optarg; break;
		case 'r': o.resource = optarg; break;
		case 'T': o.direct_tls = 1; break;
		case 'm':
			if (strcmp(optarg, "xml") == 0)
				o.mode = TERNCLIENT_XML;
			else if (strcmp(optarg, "negotiate") == 0)
				o.mode = TERNCLIENT_NEGOTIATE;
			else if (strcmp(optarg, "dedicated") == 0)
				o.mode = TERNCLIENT_DEDICATED;
			else
				usage();
			break;
		default:
			usage();
		}
	}
	if (o.port == 0 || o.user == NULL || o.password == NULL)
		usage();
	if ((c = ternclient_connect(&o, err, sizeof(err))) == NULL) {
		printf("failed %s\n", err);
		return 1;
	}
	printf("ready %s %s\n", ternclient_jid(c), ternclient_wire(c));
	fflush(stdout);
	while (go) {
		while (ternclient_pending(c) &&
		    (st = ternclient_recv(c, 0)) != NULL) {
			print_stanza(st);
			stanza_unref(st);
		}
		pfd[0] = (struct pollfd){ .fd = 0, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = ternclient_fd(c),
		    .events = POLLIN };
		if (poll(pfd, 2, 1000) == -1)
			break;
		if (pfd[1].revents) {
			if ((st = ternclient_recv(c, 0)) != NULL) {
				print_stanza(st);
				stanza_unref(st);
			} else if (ternclient_error(c) != NULL) {
				printf("closed %s\n", ternclient_error(c));
				fflush(stdout);
				break;
			}
		}
		if (pfd[0].revents) {
			/* read(2), not stdio: poll must see what is left. */
			if (have == sizeof(line) - 1 || (n = read(0,
			    line + have, sizeof(line) - 1 - have)) <= 0)
				break;
			have += (size_t)n;
			while (go && (nl = memchr(line, '\n', have)) != NULL) {
				*nl = '\0';
				go = handle_line(c, line);
				have -= (size_t)(nl + 1 - line);
				memmove(line, nl + 1, have);
			}
		}
	}
	ternclient_close(c);
	return 0;
}
