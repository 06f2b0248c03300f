/*
 * tern.conf: an nginx-style tokenizer and block parser.  Meaning comes
 * only from directive tables (house rule 3): the core table lives in
 * conf.c; module tables (later) use the same struct conf_directive and
 * conf_apply().  Every error names file:line.
 *
 * Ownership: conf_load* returns a struct tern_conf the caller releases
 * with conf_free.  It is immutable once loaded; a reload builds a new one.
 */
#ifndef TERN_CONF_H
#define TERN_CONF_H

#include <stddef.h>

/* Every size a peer controls, in one place (house rule 15). */
struct tern_limits {
	size_t		stanza_size;	/* max_stanza_size: bytes per stanza */
	unsigned	depth;		/* max_depth: element nesting */
	unsigned	attrs;		/* max_attrs: attributes per element */
	size_t		pending_output;	/* max_pending_output: bytes queued */
	unsigned	auth_timeout;	/* auth_timeout: seconds until bound */
	unsigned	conns_per_address; /* max_connections_per_address */
	unsigned	stanza_rate;	/* max_stanza_rate: per second, 0 off */
	unsigned	stanza_burst;	/* stanza_burst: bucket size */
	unsigned	auth_fail_address; /* auth_failures_per_address */
	unsigned	auth_fail_account; /* auth_failures_per_account */
	unsigned	auth_fail_window;  /* auth_failure_window: seconds */
};

enum conf_listen_kind {
	LISTEN_C2S = 0,		/* STARTTLS */
	LISTEN_C2S_TLS,		/* XEP-0368 direct TLS */
	LISTEN_C2S_BIN,		/* STARTTLS; first byte picks XML or binary */
	LISTEN_C2S_BIN_TLS,	/* direct TLS; the same after the handshake */
	LISTEN_S2S,		/* server-to-server, STARTTLS */
	LISTEN_S2S_TLS,		/* server-to-server, direct TLS */
};

/* s2s_route: a remote domain reached at a fixed host and port. */
struct conf_s2s_route {
	char		*domain;	/* prepared */
	char		*host;		/* IP address or name */
	int		 port;
	int		 line;
};

/* Federation settings (s2s_* directives). */
struct conf_s2s {
	unsigned		 idle_timeout;	/* s2s_idle_timeout */
	unsigned		 connect_timeout; /* s2s_connect_timeout */
	unsigned		 queue_max;	/* s2s_queue_max */
	char			*ca_file;	/* s2s_ca_file, or NULL */
	int			 verify;	/* s2s_verify_certificates */
	char			*nameserver;	/* dns_nameserver, or NULL */
	struct conf_s2s_route	*routes;
	size_t			 nroutes;
};

struct conf_listen {
	int		 kind;		/* enum conf_listen_kind */
	char		*addr;		/* as written: "[::]:5222" */
	char		*host;		/* "::", "127.0.0.1", "*" */
	int		 port;
	int		 line;
};

struct conf_host {
	char		*name;		/* prepared domain */
	char		*cert;		/* certificate chain file (PEM) */
	char		*key;		/* private key file (PEM) */
	int		 line;
	char		**modules;	/* `modules` names, as listed */
	size_t		  nmodules;
	int		 *modlines;	/* line of each name */
	void		**modconf;	/* per registered module: its conf */
	int		 *modused;	/* per module: line of a directive */
	size_t		  nmodconf;
};

enum conf_conflict {
	CONFLICT_REPLACE = 0,	/* new login wins, old gets <conflict/> */
	CONFLICT_REJECT,	/* new bind gets a conflict iq error */
};

struct tern_conf {
	char			*file;
	char			*user;		/* NULL: do not drop privileges */
	char			*group;
	char			*data_dir;
	char			*pid_file;	/* NULL: none */
	int			 log_level;	/* enum log_level */
	char			*log_dest;	/* NULL/"stderr", "syslog", path */
	struct conf_listen	*listens;
	size_t			 nlistens;
	struct conf_host	*hosts;
	size_t			 nhosts;
	struct tern_limits	 limits;
	int			 allow_plaintext_loopback;
	int			 binary_mode;	/* offer doc/binary.md */
	int			 resource_conflict;	/* enum conf_conflict */
	unsigned		 scram_iterations;
	size_t			 store_map_size;
	unsigned		 memory_trim_interval;	/* seconds, 0 off */
	struct conf_s2s		 s2s;
};

/* Directive contexts (bit mask). */
#define CONF_CTX_MAIN	0x01
#define CONF_CTX_HOST	0x02

enum conf_type {
	CONF_STR,	/* char * (strdup'd); replaces the default */
	CONF_INT,	/* unsigned, bounds min..max */
	CONF_SIZE,	/* size_t, suffix k/m/g (1024-based), bounds */
	CONF_TIME,	/* unsigned seconds, suffix s/m/h/d, bounds */
	CONF_BOOL,	/* int, yes/no/on/off/true/false */
	CONF_ENUM,	/* int index into values[] */
	CONF_CUSTOM,	/* set() does the work */
	CONF_BLOCK,	/* set() opens a block of ctx 'block_ctx' */
};

struct conf_parse;

struct conf_directive {
	const char		*name;
	unsigned		 ctx;		/* CONF_CTX_* where it may appear */
	int			 minargs;
	int			 maxargs;
	enum conf_type		 type;
	size_t			 offset;	/* into the block's struct */
	long long		 min;
	long long		 max;
	const char *const	*values;	/* CONF_ENUM: NULL-terminated */
	int			 multi;		/* may repeat in one block */
	/* CONF_CUSTOM / CONF_BLOCK: 0, or -1 after conf_error(). */
	int			(*set)(struct conf_parse *,
				    const struct conf_directive *, void *base,
				    int argc, char **argv);
	unsigned		 block_ctx;	/* CONF_BLOCK: context inside */
	/*
	 * Default as it would be written in the file ("256k", "info"),
	 * applied through the same setter when a block of this context
	 * opens; NULL leaves the zeroed field (NULL string, 0) alone.
	 */
	const char		*defval;
};

/*
 * Loads and checks a file (or, for tests, a string named 'name').
 * NULL on error, with "file:line: message" written into err.
 */
struct tern_conf	*conf_load(const char *path, char *err, size_t errlen);
struct tern_conf	*conf_load_string(const char *text, const char *name,
			    char *err, size_t errlen);
void			 conf_free(struct tern_conf *);

/*
 * The table walker, for core and module tables alike.  A table ends with
 * a row whose name is NULL.  A row may name several contexts only if its
 * offset means the same struct in each.
 *
 * conf_apply() applies one directive, argv[0] being its name and argc
 * counting it, read in context ctx, to the struct at base: it checks the
 * context, the block or ";" that ended it, the argument count and
 * duplicates, then runs the typed setter or set().  Returns 1 when done,
 * 0 when no row of table has that name (the caller may try another table,
 * then reports it unknown), -1 after conf_error().
 *
 * conf_block() applies the defaults of ctx to base, then reads directives
 * up to the "}" that closes the current block (or, at the top level, to
 * the end of the file) and applies them against table.  A CONF_BLOCK
 * set() calls it once the block's own argument is checked.  0 or -1.
 */
int	conf_apply(struct conf_parse *, const struct conf_directive *table,
	    unsigned ctx, void *base, int argc, char **argv);
int	conf_block(struct conf_parse *, const struct conf_directive *table,
	    unsigned ctx, void *base);

/* For set() callbacks: records "file:line: message" and returns -1. */
int	conf_error(struct conf_parse *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	conf_line(const struct conf_parse *);
/* The same, for an earlier line of the file. */
int	conf_error_at(struct conf_parse *, int line, const char *, ...)
	    __attribute__((format(printf, 3, 4)));

/*
 * Module directive tables.  module.c registers every module (built in,
 * and those `load_module` loads through the loader callback) before or
 * while a file is parsed; a host block gets one conf struct per
 * registered module, filled with defaults and the module's directives.
 */
struct conf_modtab {
	const char			*name;
	const char *const		*depends;	/* NULL-ended or NULL */
	const struct conf_directive	*table;		/* {NULL}-ended */
	size_t				 conf_size;
};

/* Registers (borrowed for the process lifetime); its index. */
size_t			 conf_module_register(const struct conf_modtab *);
size_t			 conf_module_count(void);
const struct conf_modtab *conf_module_get(size_t);
/* Index of a registered module by name, or -1. */
int			 conf_module_find(const char *);
/* Loads a module from path and registers it: 0, or -1 with err set. */
void			 conf_set_loader(int (*)(const char *path, char *err,
			    size_t errlen));

/* Internal to conf.c and conf_mod.c. */
int	conf_defaults(struct conf_parse *, const struct conf_directive *,
	    unsigned ctx, void *base);
int	conf_set_modules(struct conf_parse *, const struct conf_directive *,
	    void *, int, char **);
int	conf_set_load_module(struct conf_parse *,
	    const struct conf_directive *, void *, int, char **);
int	conf_host_modules_begin(struct conf_parse *, struct conf_host *);
int	conf_host_module_directive(struct conf_parse *, struct conf_host *,
	    int argc, char **argv);
int	conf_host_modules_end(struct conf_parse *, struct conf_host *);
void	conf_host_modules_free(struct conf_host *);
/* Nearest module directive name to name (for suggestions), or NULL. */
const char *conf_module_suggest(const char *name, int *dist);
int	conf_distance(const char *, const char *);

/* The core directive table ({NULL}-ended), for documentation checks. */
const struct conf_directive *conf_core_directives(void);

/* The s2s_route of a prepared domain, or NULL. */
const struct conf_s2s_route *conf_s2s_route_find(const struct tern_conf *,
			    const char *domain);

/* Looks a host up by prepared domain; NULL if not served. */
const struct conf_host	*conf_host_find(const struct tern_conf *,
			    const char *domain);

#endif
