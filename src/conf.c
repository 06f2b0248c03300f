/*
 * tern.conf parser.  Three layers: a tokenizer (bare words, "quoted
 * strings", ";", "{", "}", # comments), a statement reader that groups
 * tokens into one directive, and a table walker (conf_apply, conf_block)
 * that gives them meaning from const directive tables only.  The core
 * table is at the end of this file; module tables reuse the walker.
 *
 * Ownership: the parser owns every token string; setters copy what they
 * keep.  The struct tern_conf under construction is freed whole on the
 * first error, so a setter never cleans up after a later failure.
 * Only the first error is recorded.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/util.h>

#include "conf.h"
#include "jid.h"
#include "log.h"
#include "xmalloc.h"

#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR	"/var"
#endif

#define SUGGEST_MAX	2	/* Levenshtein distance for "did you mean" */
#define NAME_MAX_DIST	64	/* longer names are never suggested */

enum tok {
	TOK_ERR = -1,
	TOK_EOF,
	TOK_WORD,
	TOK_SEMI,
	TOK_LBRACE,
	TOK_RBRACE,
};

/* What reading one statement ended with. */
enum stmt_end {
	STMT_ERR = -1,
	STMT_OK,
	STMT_EOF,
	STMT_CLOSE,
};

struct token {
	enum tok	 type;
	char		*text;		/* TOK_WORD: owned */
	int		 line;
	int		 quoted;
	int		 bol;		/* first token on its line */
};

struct stmt {
	char		**argv;
	int		  argc;
	int		  cap;
	int		  line;
	enum tok	  term;		/* TOK_SEMI or TOK_LBRACE */
	int		  brk;		/* bare word that opens a line */
};

struct seen {
	const struct conf_directive	*d;
	int				 line;
};

/* One open block: the directives already seen, for duplicates. */
struct conf_frame {
	struct conf_frame	*prev;
	struct seen		*seen;
	size_t			 nseen;
	int			 line;		/* of the opening directive */
};

struct conf_parse {
	const char		*name;
	const char		*start;
	const char		*cur;
	const char		*end;
	int			 line;		/* tokenizer position */
	int			 tokline;	/* line of the last token */
	int			 dline;		/* of the current directive */
	enum tok		 term;		/* what ended it */
	struct conf_frame	*frame;		/* NULL: top level */
	struct tern_conf	*conf;
	char			*err;
	size_t			 errlen;
	int			 failed;
};

struct unit {
	char			 c;
	unsigned long long	 mul;
};

/* Largest first: bounds are printed with the largest exact unit. */
static const struct unit size_units[] = {
	{ 'g', 1ULL << 30 }, { 'm', 1ULL << 20 }, { 'k', 1ULL << 10 },
	{ '\0', 0 }
};
static const struct unit time_units[] = {
	{ 'd', 86400 }, { 'h', 3600 }, { 'm', 60 }, { 's', 1 }, { '\0', 0 }
};

/* How CONF_INT, CONF_SIZE and CONF_TIME read and describe a number. */
struct numtype {
	const struct unit	*units;		/* NULL: digits only */
	int			 fold;		/* suffix case-insensitive */
	const char		*what;
	const char		*hint;
};

static const struct numtype numtypes[] = {
	[CONF_INT] = { NULL, 0, "a number", "" },
	[CONF_SIZE] = { size_units, 1, "a size",
	    " (bytes, or suffix k, m or g)" },
	[CONF_TIME] = { time_units, 0, "a duration",
	    " (seconds, or suffix s, m, h or d)" },
};

/* Even index true, odd index false. */
static const char *const bool_values[] = {
	"yes", "no", "on", "off", "true", "false", NULL
};

static const struct {
	unsigned	 ctx;
	const char	*where;
} ctx_names[] = {
	{ CONF_CTX_MAIN, "at the top level" },
	{ CONF_CTX_HOST, "inside a host block" },
};

static int	vconf_error(struct conf_parse *, int, const char *, va_list)
		    __attribute__((format(printf, 3, 0)));

/*
 * Errors.
 */

static int
vconf_error(struct conf_parse *p, int line, const char *fmt, va_list ap)
{
	int	n;

	if (p->failed++ || p->err == NULL || p->errlen == 0)
		return -1;
	n = snprintf(p->err, p->errlen, "%s:%d: ", p->name, line);
	if (n >= 0 && (size_t)n < p->errlen)
		vsnprintf(p->err + n, p->errlen - n, fmt, ap);
	return -1;
}

int
conf_error_at(struct conf_parse *p, int line, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vconf_error(p, line, fmt, ap);
	va_end(ap);
	return -1;
}

int
conf_error(struct conf_parse *p, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vconf_error(p, p->dline, fmt, ap);
	va_end(ap);
	return -1;
}

int
conf_line(const struct conf_parse *p)
{
	return p->dline;
}

/* The last line of the file, not the empty one after its final newline. */
static int
eof_line(const struct conf_parse *p)
{
	if (p->line > 1 && p->end > p->start && p->end[-1] == '\n')
		return p->line - 1;
	return p->line;
}

/*
 * Tokenizer.
 */

static int
is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '\f' || c == '\v';
}

static void
skip_space(struct conf_parse *p)
{
	while (p->cur < p->end) {
		if (*p->cur == '#') {
			while (p->cur < p->end && *p->cur != '\n')
				p->cur++;
		} else if (is_space(*p->cur)) {
			if (*p->cur == '\n')
				p->line++;
			p->cur++;
		} else
			break;
	}
}

static int
read_bare(struct conf_parse *p, struct token *t)
{
	const char	*s = p->cur;

	while (p->cur < p->end && !is_space(*p->cur) &&
	    strchr(";{}\"", *p->cur) == NULL)
		p->cur++;
	t->text = xstrndup(s, p->cur - s);
	if (p->cur < p->end && *p->cur == '"')
		return conf_error_at(p, p->line, "unexpected quote after "
		    "\"%s\": quote the whole value", t->text);
	return t->type = TOK_WORD;
}

/* Copies the string body from s, which read_quoted() found to end at q. */
static int
unquote(struct conf_parse *p, const char *s, const char *q, char *o)
{
	for (; s < q; s++) {
		if (*s == '\n')
			p->line++;
		if (*s == '\\') {
			if (s[1] != '"' && s[1] != '\\')
				return conf_error_at(p, p->line, "invalid "
				    "escape \"\\%c\" in quoted string: only "
				    "\\\" and \\\\ are allowed", s[1]);
			s++;
		}
		*o++ = *s;
	}
	*o = '\0';
	return 0;
}

static int
read_quoted(struct conf_parse *p, struct token *t)
{
	const char	*s = p->cur + 1, *q;

	t->quoted = 1;
	for (q = s; q < p->end && *q != '"'; q++)
		if (*q == '\\' && q + 1 < p->end)
			q++;
	if (q >= p->end)
		return conf_error_at(p, t->line, "unterminated quoted string");
	t->text = xmalloc(q - s + 1);
	if (unquote(p, s, q, t->text) == -1)
		return -1;
	p->cur = q + 1;
	if (p->cur < p->end && !is_space(*p->cur) &&
	    strchr(";{}#", *p->cur) == NULL)
		return conf_error_at(p, p->line, "unexpected \"%c\" after "
		    "quoted string \"%s\"", *p->cur, t->text);
	return t->type = TOK_WORD;
}

static int
next_token(struct conf_parse *p, struct token *t)
{
	static const char	 punct[] = ";{}";
	static const enum tok	 punct_tok[] = {
		TOK_SEMI, TOK_LBRACE, TOK_RBRACE
	};
	const char		*c;

	skip_space(p);
	memset(t, 0, sizeof(*t));
	t->line = p->line;
	t->bol = p->line != p->tokline;
	if (p->cur >= p->end)
		return t->type = TOK_EOF;
	p->tokline = p->line;
	if ((c = strchr(punct, *p->cur)) != NULL) {
		p->cur++;
		return t->type = punct_tok[c - punct];
	}
	if (*p->cur == '"')
		return t->type = read_quoted(p, t);
	return t->type = read_bare(p, t);
}

/*
 * Statements: a name, arguments, then ";" or "{".
 */

static void
stmt_push(struct stmt *st, char *word)
{
	if (st->argc == st->cap) {
		st->cap = st->cap ? st->cap * 2 : 8;
		st->argv = xreallocarray(st->argv, st->cap + 1,
		    sizeof(*st->argv));
	}
	st->argv[st->argc++] = word;
	st->argv[st->argc] = NULL;
}

static void
stmt_free(struct stmt *st)
{
	int	i;

	for (i = 0; i < st->argc; i++)
		free(st->argv[i]);
	free(st->argv);
	memset(st, 0, sizeof(*st));
}

/* The first token of a statement: a name, a "}" or the end. */
static enum stmt_end
read_name(struct conf_parse *p, struct stmt *st)
{
	struct token	t;

	next_token(p, &t);
	st->line = t.line;
	switch (t.type) {
	case TOK_ERR:
		free(t.text);
		return STMT_ERR;
	case TOK_EOF:
		return STMT_EOF;
	case TOK_RBRACE:
		return STMT_CLOSE;
	case TOK_WORD:
		stmt_push(st, t.text);
		return STMT_OK;
	default:
		return conf_error_at(p, t.line, "unexpected \"%s\"",
		    t.type == TOK_SEMI ? ";" : "{");
	}
}

static enum stmt_end
read_stmt(struct conf_parse *p, struct stmt *st)
{
	struct token	t;
	enum stmt_end	r;

	memset(st, 0, sizeof(*st));
	if ((r = read_name(p, st)) != STMT_OK)
		return r;
	for (;;) {
		switch (next_token(p, &t)) {
		case TOK_ERR:
			free(t.text);
			return STMT_ERR;
		case TOK_WORD:
			if (t.bol && !t.quoted && st->brk == 0)
				st->brk = st->argc;
			stmt_push(st, t.text);
			break;
		case TOK_SEMI:
		case TOK_LBRACE:
			st->term = t.type;
			return STMT_OK;
		default:
			return conf_error_at(p, st->line, "directive \"%s\" "
			    "is not terminated by \";\"", st->argv[0]);
		}
	}
}

/*
 * Table walker.
 */

static const struct conf_directive *
find_directive(const struct conf_directive *table, const char *name)
{
	for (; table->name != NULL; table++)
		if (strcmp(table->name, name) == 0)
			return table;
	return NULL;
}

static const char *
ctx_where(unsigned ctx)
{
	size_t	i;

	for (i = 0; i < sizeof(ctx_names) / sizeof(ctx_names[0]); i++)
		if (ctx & ctx_names[i].ctx)
			return ctx_names[i].where;
	return "here";
}

int
conf_distance(const char *a, const char *b)
{
	int	row[NAME_MAX_DIST + 1], i, j, prev, cur, best;
	int	la = strlen(a), lb = strlen(b);

	if (la > NAME_MAX_DIST || lb > NAME_MAX_DIST)
		return NAME_MAX_DIST;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			cur = row[j];
			best = prev + (tolower((unsigned char)a[i - 1]) !=
			    tolower((unsigned char)b[j - 1]));
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	return row[lb];
}

static int
unknown_directive(struct conf_parse *p, const struct conf_directive *table,
    unsigned ctx, const char *name)
{
	const struct conf_directive	*d, *best = NULL;
	int				 dist, bestdist = SUGGEST_MAX + 1;

	for (d = table; d->name != NULL; d++) {
		if ((d->ctx & ctx) == 0)
			continue;
		if ((dist = conf_distance(name, d->name)) < bestdist) {
			bestdist = dist;
			best = d;
		}
	}
	if (ctx == CONF_CTX_HOST) {
		const char	*m = conf_module_suggest(name, &dist);

		if (m != NULL && dist < bestdist)
			return conf_error(p, "unknown directive \"%s\"; did "
			    "you mean \"%s\"?", name, m);
	}
	if (best != NULL)
		return conf_error(p, "unknown directive \"%s\"; did you mean "
		    "\"%s\"?", name, best->name);
	return conf_error(p, "unknown directive \"%s\"", name);
}

static int
check_argc(struct conf_parse *p, const struct conf_directive *d, int n)
{
	if (n >= d->minargs && n <= d->maxargs)
		return 0;
	if (d->minargs == d->maxargs)
		return conf_error(p, "invalid number of arguments in \"%s\": "
		    "expected %d, got %d", d->name, d->minargs, n);
	return conf_error(p, "invalid number of arguments in \"%s\": "
	    "expected %d %s %d, got %d", d->name, d->minargs,
	    d->maxargs == d->minargs + 1 ? "or" : "to", d->maxargs, n);
}

/* Records d in the current block; -1 if it was already there. */
static int
check_duplicate(struct conf_parse *p, const struct conf_directive *d)
{
	struct conf_frame	*f = p->frame;
	size_t			 i;

	if (d->multi)
		return 0;
	for (i = 0; i < f->nseen; i++)
		if (f->seen[i].d == d)
			return conf_error(p, "duplicate directive \"%s\" "
			    "(first at line %d)", d->name, f->seen[i].line);
	f->seen = xreallocarray(f->seen, f->nseen + 1, sizeof(*f->seen));
	f->seen[f->nseen].d = d;
	f->seen[f->nseen++].line = p->dline;
	return 0;
}

static int	set_value(struct conf_parse *, const struct conf_directive *,
		    void *, int, char **);

int
conf_apply(struct conf_parse *p, const struct conf_directive *table,
    unsigned ctx, void *base, int argc, char **argv)
{
	const struct conf_directive	*d;

	if ((d = find_directive(table, argv[0])) == NULL)
		return 0;
	if ((d->ctx & ctx) == 0)
		return conf_error(p, "directive \"%s\" is not allowed %s; it "
		    "belongs %s", d->name, ctx_where(ctx), ctx_where(d->ctx));
	if (d->type == CONF_BLOCK && p->term != TOK_LBRACE)
		return conf_error(p, "directive \"%s\" has no block: expected "
		    "\"{\" after its arguments", d->name);
	if (d->type != CONF_BLOCK && p->term == TOK_LBRACE)
		return conf_error(p, "unexpected \"{\": directive \"%s\" "
		    "takes no block", d->name);
	if (check_argc(p, d, argc - 1) == -1 ||
	    check_duplicate(p, d) == -1 ||
	    set_value(p, d, base, argc, argv) == -1)
		return -1;
	return 1;
}

int
conf_defaults(struct conf_parse *p, const struct conf_directive *table,
    unsigned ctx, void *base)
{
	const struct conf_directive	*d;
	char				*argv[3];

	for (d = table; d->name != NULL; d++) {
		if ((d->ctx & ctx) == 0 || d->defval == NULL)
			continue;
		argv[0] = (char *)d->name;
		argv[1] = (char *)d->defval;
		argv[2] = NULL;
		if (set_value(p, d, base, 2, argv) == -1)
			return -1;
	}
	return 0;
}

/* One directive of a block; 0 or -1. */
static int
dispatch(struct conf_parse *p, const struct conf_directive *table,
    unsigned ctx, void *base, struct stmt *st)
{
	int	r;

	p->dline = st->line;
	p->term = st->term;
	if (st->brk > 0 && find_directive(table, st->argv[st->brk]) != NULL)
		return conf_error(p, "directive \"%s\" is not terminated by "
		    "\";\"", st->argv[0]);
	if ((r = conf_apply(p, table, ctx, base, st->argc, st->argv)) == 0 &&
	    ctx == CONF_CTX_HOST)
		r = conf_host_module_directive(p, base, st->argc, st->argv);
	if (r == 0)
		return unknown_directive(p, table, ctx, st->argv[0]);
	return r == -1 ? -1 : 0;
}

static int
parse_body(struct conf_parse *p, const struct conf_directive *table,
    unsigned ctx, void *base)
{
	struct stmt	st;
	int		top = p->frame->prev == NULL, r;

	for (;;) {
		switch (read_stmt(p, &st)) {
		case STMT_OK:
			r = dispatch(p, table, ctx, base, &st);
			break;
		case STMT_CLOSE:
			r = top ? conf_error_at(p, st.line,
			    "unexpected \"}\"") : 1;
			break;
		case STMT_EOF:
			r = top ? 1 : conf_error_at(p, eof_line(p),
			    "unexpected end of file, expecting \";\" or \"}\": "
			    "the block opened at line %d is not closed",
			    p->frame->line);
			break;
		default:
			r = -1;
			break;
		}
		stmt_free(&st);
		if (r != 0)
			return r == -1 ? -1 : 0;
	}
}

int
conf_block(struct conf_parse *p, const struct conf_directive *table,
    unsigned ctx, void *base)
{
	struct conf_frame	 f;
	int			 r, dline = p->dline;
	enum tok		 term = p->term;

	if (conf_defaults(p, table, ctx, base) == -1)
		return -1;
	memset(&f, 0, sizeof(f));
	f.prev = p->frame;
	f.line = p->dline;
	p->frame = &f;
	r = parse_body(p, table, ctx, base);
	p->frame = f.prev;
	free(f.seen);
	p->dline = dline;
	p->term = term;
	return r;
}

/*
 * Typed setters.
 */

static void *
field(void *base, const struct conf_directive *d)
{
	return (char *)base + d->offset;
}

static int
invalid(struct conf_parse *p, const struct conf_directive *d,
    const char *value, const char *expected)
{
	return conf_error(p, "invalid value \"%s\" for \"%s\": expected %s",
	    value, d->name, expected);
}

static int
set_str(struct conf_parse *p, const struct conf_directive *d, void *base,
    int argc, char **argv)
{
	char	**s = field(base, d);

	if (argv[1][0] == '\0')
		return invalid(p, d, argv[1], "a non-empty string");
	free(*s);
	*s = xstrdup(argv[1]);
	return 0;
}

/* Decimal digits, then at most one unit suffix; -1 on garbage/overflow. */
static int
parse_num(const char *s, const struct numtype *nt, unsigned long long *v)
{
	const struct unit	*u;
	unsigned long long	 n = 0;
	const char		*c;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (c = s; isdigit((unsigned char)*c); c++) {
		if (n > (ULLONG_MAX - (*c - '0')) / 10)
			return -1;
		n = n * 10 + (*c - '0');
	}
	*v = n;
	if (*c == '\0')
		return 0;
	if (nt->units == NULL || c[1] != '\0')
		return -1;
	for (u = nt->units; u->c != '\0'; u++) {
		if (*c != u->c && !(nt->fold && tolower((unsigned char)*c) ==
		    u->c))
			continue;
		if (n > ULLONG_MAX / u->mul)
			return -1;
		*v = n * u->mul;
		return 0;
	}
	return -1;
}

static void
fmt_num(char *buf, size_t len, unsigned long long v, const struct unit *u)
{
	for (; u != NULL && u->c != '\0'; u++) {
		if (v != 0 && v % u->mul == 0) {
			snprintf(buf, len, "%llu%c", v / u->mul, u->c);
			return;
		}
	}
	snprintf(buf, len, "%llu", v);
}

static int
set_num(struct conf_parse *p, const struct conf_directive *d, void *base,
    int argc, char **argv)
{
	const struct numtype	*nt = &numtypes[d->type];
	unsigned long long	 v;
	char			 lo[32], hi[32], exp[160];

	if (parse_num(argv[1], nt, &v) == -1 ||
	    v < (unsigned long long)d->min || v > (unsigned long long)d->max ||
	    (d->type == CONF_SIZE && v > SIZE_MAX) ||
	    (d->type != CONF_SIZE && v > UINT_MAX)) {
		fmt_num(lo, sizeof(lo), d->min, nt->units);
		fmt_num(hi, sizeof(hi), d->max, nt->units);
		snprintf(exp, sizeof(exp), "%s from %s to %s%s", nt->what,
		    lo, hi, nt->hint);
		return invalid(p, d, argv[1], exp);
	}
	if (d->type == CONF_SIZE)
		*(size_t *)field(base, d) = v;
	else
		*(unsigned *)field(base, d) = v;
	return 0;
}

/* "a, b or c" */
static void
join_words(char *buf, size_t len, const char *const *w)
{
	size_t	n, off = 0;
	int	r;

	buf[0] = '\0';
	for (n = 0; w[n] != NULL && off < len; n++) {
		r = snprintf(buf + off, len - off, "%s%s", n == 0 ? "" :
		    w[n + 1] == NULL ? " or " : ", ", w[n]);
		if (r < 0)
			break;
		off += r;
	}
}

static int
find_word(const char *const *w, const char *s)
{
	int	i;

	for (i = 0; w[i] != NULL; i++)
		if (strcasecmp(w[i], s) == 0)
			return i;
	return -1;
}

static int
set_word(struct conf_parse *p, const struct conf_directive *d, void *base,
    int argc, char **argv)
{
	const char *const	*w = d->type == CONF_BOOL ? bool_values :
				    d->values;
	char			 exp[256];
	int			 i;

	if ((i = find_word(w, argv[1])) == -1) {
		join_words(exp, sizeof(exp), w);
		return invalid(p, d, argv[1], exp);
	}
	*(int *)field(base, d) = d->type == CONF_BOOL ? (i & 1) == 0 : i;
	return 0;
}

static int
set_custom(struct conf_parse *p, const struct conf_directive *d, void *base,
    int argc, char **argv)
{
	return d->set(p, d, base, argc, argv);
}

static int (*const setters[])(struct conf_parse *,
    const struct conf_directive *, void *, int, char **) = {
	[CONF_STR] = set_str,
	[CONF_INT] = set_num,
	[CONF_SIZE] = set_num,
	[CONF_TIME] = set_num,
	[CONF_BOOL] = set_word,
	[CONF_ENUM] = set_word,
	[CONF_CUSTOM] = set_custom,
	[CONF_BLOCK] = set_custom,
};

static int
set_value(struct conf_parse *p, const struct conf_directive *d, void *base,
    int argc, char **argv)
{
	return setters[d->type](p, d, base, argc, argv);
}

/*
 * Core directives with a meaning of their own.
 */

static int
set_log(struct conf_parse *p, const struct conf_directive *d, void *base,
    int argc, char **argv)
{
	struct tern_conf	*conf = base;
	int			 level;

	if ((level = log_level_parse(argv[1])) == -1)
		return invalid(p, d, argv[1], "error, warn, info or debug");
	if (argc > 2 && argv[2][0] == '\0')
		return invalid(p, d, argv[2], "\"stderr\", \"syslog\" or a "
		    "file path");
	conf->log_level = level;
	free(conf->log_dest);
	conf->log_dest = argc > 2 ? xstrdup(argv[2]) : NULL;
	return 0;
}

static const struct {
	const char	*name;
	int		 kind;
} listen_kinds[] = {
	{ "c2s", LISTEN_C2S },
	{ "c2s_tls", LISTEN_C2S_TLS },
	{ "c2s_bin", LISTEN_C2S_BIN },
	{ "c2s_bin_tls", LISTEN_C2S_BIN_TLS },
	{ "s2s", LISTEN_S2S },
	{ "s2s_tls", LISTEN_S2S_TLS },
};

#define NLISTEN_KINDS	(sizeof(listen_kinds) / sizeof(listen_kinds[0]))

static int
listen_kind(const char *s)
{
	size_t	i;

	for (i = 0; i < NLISTEN_KINDS; i++)
		if (strcmp(s, listen_kinds[i].name) == 0)
			return listen_kinds[i].kind;
	return -1;
}

static int
parse_port(const char *s)
{
	unsigned long long	v;

	if (parse_num(s, &numtypes[CONF_INT], &v) == -1 || v < 1 ||
	    v > 65535)
		return -1;
	return v;
}

/* Splits "host:port", "[v6]:port" or "*:port"; NULL or a reason. */
static const char *
parse_addr(const char *addr, struct conf_listen *l)
{
	const char	*colon, *h = addr;
	size_t		 hlen;
	unsigned char	 bin[16];

	if (*addr == '[') {
		h = addr + 1;
		if ((colon = strchr(h, ']')) == NULL || colon[1] != ':')
			return "expected \"[IPV6]:PORT\"";
		hlen = colon++ - h;
	} else {
		if ((colon = strrchr(addr, ':')) == NULL)
			return "expected \"HOST:PORT\"";
		hlen = colon - h;
		if (memchr(h, ':', hlen) != NULL)
			return "an IPv6 address goes in brackets, "
			    "as in \"[::]:5222\"";
	}
	if ((l->port = parse_port(colon + 1)) == -1)
		return "the port must be a number from 1 to 65535";
	l->host = xstrndup(h, hlen);
	if (*addr != '[' && strcasecmp(l->host, "localhost") == 0) {
		/* listen.c knows it in lower case only. */
		free(l->host);
		l->host = xstrdup("localhost");
	}
	if (*addr == '[' ? inet_pton(AF_INET6, l->host, bin) == 1 :
	    strcmp(l->host, "*") == 0 || strcmp(l->host, "localhost") == 0 ||
	    inet_pton(AF_INET, l->host, bin) == 1)
		return NULL;
	free(l->host);
	l->host = NULL;
	return "the host must be an IP address, \"*\" or \"localhost\"";
}

static int
set_listen(struct conf_parse *p, const struct conf_directive *d, void *base,
    int argc, char **argv)
{
	struct tern_conf	*conf = base;
	struct conf_listen	 l;
	const char		*why;

	memset(&l, 0, sizeof(l));
	if ((l.kind = listen_kind(argv[1])) == -1)
		return conf_error(p, "invalid value \"%s\" for \"listen\": "
		    "expected c2s, c2s_tls, c2s_bin, c2s_bin_tls, s2s or "
		    "s2s_tls",
		    argv[1]);
	if ((why = parse_addr(argv[2], &l)) != NULL)
		return conf_error(p, "invalid value \"%s\" for \"listen\": %s",
		    argv[2], why);
	l.addr = xstrdup(argv[2]);
	l.line = conf_line(p);
	conf->listens = xreallocarray(conf->listens, conf->nlistens + 1,
	    sizeof(*conf->listens));
	conf->listens[conf->nlistens++] = l;
	return 0;
}

/* s2s_route "domain" "host:port": federation without DNS. */
static int
set_s2s_route(struct conf_parse *p, const struct conf_directive *d,
    void *base, int argc, char **argv)
{
	struct tern_conf	*conf = base;
	struct conf_s2s_route	 r;
	const char		*colon;
	size_t			 i;

	memset(&r, 0, sizeof(r));
	if ((r.domain = jid_prep_domain(argv[1])) == NULL)
		return invalid(p, d, argv[1], "a domain name");
	for (i = 0; i < conf->s2s.nroutes; i++)
		if (strcmp(conf->s2s.routes[i].domain, r.domain) == 0) {
			free(r.domain);
			return conf_error(p, "duplicate s2s_route for \"%s\" "
			    "(first at line %d)", argv[1],
			    conf->s2s.routes[i].line);
		}
	if (argv[2][0] == '[') {
		colon = strchr(argv[2], ']');
		if (colon == NULL || colon[1] != ':')
			colon = NULL;
		else {
			r.host = xstrndup(argv[2] + 1, colon - argv[2] - 1);
			colon++;
		}
	} else if ((colon = strrchr(argv[2], ':')) != NULL &&
	    memchr(argv[2], ':', colon - argv[2]) == NULL && colon != argv[2])
		r.host = xstrndup(argv[2], colon - argv[2]);
	else
		colon = NULL;
	if (colon == NULL || (r.port = parse_port(colon + 1)) == -1) {
		free(r.domain);
		free(r.host);
		return invalid(p, d, argv[2], "\"HOST:PORT\" or "
		    "\"[IPV6]:PORT\" with a port from 1 to 65535");
	}
	r.line = conf_line(p);
	conf->s2s.routes = xreallocarray(conf->s2s.routes,
	    conf->s2s.nroutes + 1, sizeof(*conf->s2s.routes));
	conf->s2s.routes[conf->s2s.nroutes++] = r;
	return 0;
}

/* dns_nameserver "IP" or "IP:PORT" / "[IPV6]:PORT". */
static int
set_nameserver(struct conf_parse *p, const struct conf_directive *d,
    void *base, int argc, char **argv)
{
	struct tern_conf	*conf = base;
	struct sockaddr_storage	 ss;
	int			 len = sizeof(ss);

	if (evutil_parse_sockaddr_port(argv[1], (struct sockaddr *)&ss,
	    &len) != 0)
		return invalid(p, d, argv[1], "an IP address, optionally "
		    "with a port (\"127.0.0.1:53\", \"[::1]:53\")");
	free(conf->s2s.nameserver);
	conf->s2s.nameserver = xstrdup(argv[1]);
	return 0;
}

static void
host_clear(struct conf_host *h)
{
	free(h->name);
	free(h->cert);
	free(h->key);
	conf_host_modules_free(h);
}

static int
set_certificate(struct conf_parse *p, const struct conf_directive *d,
    void *base, int argc, char **argv)
{
	struct conf_host	*h = base;
	int			 i;

	for (i = 1; i < argc; i++)
		if (argv[i][0] == '\0')
			return invalid(p, d, argv[i], "a file path");
	h->cert = xstrdup(argv[1]);
	h->key = xstrdup(argv[2]);
	return 0;
}

static int	set_host(struct conf_parse *, const struct conf_directive *,
		    void *, int, char **);

static const char *const conflict_values[] = { "replace", "reject", NULL };

#define MAIN(f)		offsetof(struct tern_conf, f)
#define HOST(f)		offsetof(struct conf_host, f)
#define K		(1LL << 10)
#define M		(1LL << 20)
#define G		(1LL << 30)

/* Documented in man/tern.conf.5: keep the two in step. */
static const struct conf_directive core_directives[] = {
	{ .name = "user", .ctx = CONF_CTX_MAIN, .minargs = 1, .maxargs = 1,
	  .type = CONF_STR, .offset = MAIN(user) },
	{ .name = "group", .ctx = CONF_CTX_MAIN, .minargs = 1, .maxargs = 1,
	  .type = CONF_STR, .offset = MAIN(group) },
	{ .name = "data_dir", .ctx = CONF_CTX_MAIN, .minargs = 1,
	  .maxargs = 1, .type = CONF_STR, .offset = MAIN(data_dir),
	  .defval = LOCALSTATEDIR "/lib/tern" },
	{ .name = "pid_file", .ctx = CONF_CTX_MAIN, .minargs = 1,
	  .maxargs = 1, .type = CONF_STR, .offset = MAIN(pid_file) },
	{ .name = "log", .ctx = CONF_CTX_MAIN, .minargs = 1, .maxargs = 2,
	  .type = CONF_CUSTOM, .set = set_log, .defval = "info" },
	{ .name = "listen", .ctx = CONF_CTX_MAIN, .minargs = 2, .maxargs = 2,
	  .type = CONF_CUSTOM, .multi = 1, .set = set_listen },
	{ .name = "max_stanza_size", .ctx = CONF_CTX_MAIN, .minargs = 1,
	  .maxargs = 1, .type = CONF_SIZE,
	  .offset = MAIN(limits.stanza_size), .min = 1 * K, .max = 16 * M,
	  .defval = "256k" },
	{ .name = "max_depth", .ctx = CONF_CTX_MAIN, .minargs = 1,
	  .maxargs = 1, .type = CONF_INT, .offset = MAIN(limits.depth),
	  .min = 4, .max = 1024, .defval = "64" },
	{ .name = "max_attrs", .ctx = CONF_CTX_MAIN, .minargs = 1,
	  .maxargs = 1, .type = CONF_INT, .offset = MAIN(limits.attrs),
	  .min = 4, .max = 4096, .defval = "64" },
	{ .name = "max_pending_output", .ctx = CONF_CTX_MAIN, .minargs = 1,
	  .maxargs = 1, .type = CONF_SIZE,
	  .offset = MAIN(limits.pending_output), .min = 64 * K, .max = 1 * G,
	  .defval = "1m" },
	{ .name = "auth_timeout", .ctx = CONF_CTX_MAIN, .minargs = 1,
	  .maxargs = 1, .type = CONF_TIME,
	  .offset = MAIN(limits.auth_timeout), .min = 1, .max = 3600,
	  .defval = "30s" },
	{ .name = "max_connections_per_address", .ctx = CONF_CTX_MAIN,
	  .minargs = 1, .maxargs = 1, .type = CONF_INT,
	  .offset = MAIN(limits.conns_per_address), .min = 0, .max = 1000000,
	  .defval = "100" },
	{ .name = "max_stanza_rate", .ctx = CONF_CTX_MAIN, .minargs = 1,
	  .maxargs = 1, .type = CONF_INT, .offset = MAIN(limits.stanza_rate),
	  .min = 0, .max = 1000000, .defval = "200" },
	{ .name = "stanza_burst", .ctx = CONF_CTX_MAIN, .minargs = 1,
	  .maxargs = 1, .type = CONF_INT, .offset = MAIN(limits.stanza_burst),
	  .min = 1, .max = 10000000, .defval = "2000" },
	{ .name = "auth_failures_per_address", .ctx = CONF_CTX_MAIN,
	  .minargs = 1, .maxargs = 1, .type = CONF_INT,
	  .offset = MAIN(limits.auth_fail_address), .min = 0, .max = 1000000,
	  .defval = "20" },
	{ .name = "auth_failures_per_account", .ctx = CONF_CTX_MAIN,
	  .minargs = 1, .maxargs = 1, .type = CONF_INT,
	  .offset = MAIN(limits.auth_fail_account), .min = 0, .max = 1000000,
	  .defval = "50" },
	{ .name = "auth_failure_window", .ctx = CONF_CTX_MAIN, .minargs = 1,
	  .maxargs = 1, .type = CONF_TIME,
	  .offset = MAIN(limits.auth_fail_window), .min = 1, .max = 86400,
	  .defval = "5m" },
	{ .name = "allow_plaintext_loopback", .ctx = CONF_CTX_MAIN,
	  .minargs = 1, .maxargs = 1, .type = CONF_BOOL,
	  .offset = MAIN(allow_plaintext_loopback), .defval = "no" },
	{ .name = "binary_mode", .ctx = CONF_CTX_MAIN, .minargs = 1,
	  .maxargs = 1, .type = CONF_BOOL, .offset = MAIN(binary_mode),
	  .defval = "yes" },
	{ .name = "resource_conflict", .ctx = CONF_CTX_MAIN, .minargs = 1,
	  .maxargs = 1, .type = CONF_ENUM, .offset = MAIN(resource_conflict),
	  .values = conflict_values, .defval = "replace" },
	{ .name = "scram_iterations", .ctx = CONF_CTX_MAIN, .minargs = 1,
	  .maxargs = 1, .type = CONF_INT, .offset = MAIN(scram_iterations),
	  .min = 4096, .max = 1000000, .defval = "4096" },
	{ .name = "store_map_size", .ctx = CONF_CTX_MAIN, .minargs = 1,
	  .maxargs = 1, .type = CONF_SIZE, .offset = MAIN(store_map_size),
	  .min = 1 * M, .max = 1024 * G, .defval = "1g" },
	{ .name = "memory_trim_interval", .ctx = CONF_CTX_MAIN,
	  .minargs = 1, .maxargs = 1, .type = CONF_TIME,
	  .offset = MAIN(memory_trim_interval), .min = 0, .max = 86400,
	  .defval = "30s" },
	{ .name = "s2s_route", .ctx = CONF_CTX_MAIN, .minargs = 2,
	  .maxargs = 2, .type = CONF_CUSTOM, .multi = 1,
	  .set = set_s2s_route },
	{ .name = "s2s_idle_timeout", .ctx = CONF_CTX_MAIN, .minargs = 1,
	  .maxargs = 1, .type = CONF_TIME, .offset = MAIN(s2s.idle_timeout),
	  .min = 1, .max = 86400, .defval = "10m" },
	{ .name = "s2s_connect_timeout", .ctx = CONF_CTX_MAIN, .minargs = 1,
	  .maxargs = 1, .type = CONF_TIME,
	  .offset = MAIN(s2s.connect_timeout), .min = 1, .max = 600,
	  .defval = "30s" },
	{ .name = "s2s_queue_max", .ctx = CONF_CTX_MAIN, .minargs = 1,
	  .maxargs = 1, .type = CONF_INT, .offset = MAIN(s2s.queue_max),
	  .min = 1, .max = 100000, .defval = "256" },
	{ .name = "dns_nameserver", .ctx = CONF_CTX_MAIN, .minargs = 1,
	  .maxargs = 1, .type = CONF_CUSTOM, .set = set_nameserver },
	{ .name = "s2s_ca_file", .ctx = CONF_CTX_MAIN, .minargs = 1,
	  .maxargs = 1, .type = CONF_STR, .offset = MAIN(s2s.ca_file) },
	{ .name = "host", .ctx = CONF_CTX_MAIN, .minargs = 1, .maxargs = 1,
	  .type = CONF_BLOCK, .multi = 1, .set = set_host,
	  .block_ctx = CONF_CTX_HOST },
	{ .name = "certificate", .ctx = CONF_CTX_HOST, .minargs = 2,
	  .maxargs = 2, .type = CONF_CUSTOM, .set = set_certificate },
	{ .name = "modules", .ctx = CONF_CTX_HOST, .minargs = 1,
	  .maxargs = 64, .type = CONF_CUSTOM, .multi = 1,
	  .set = conf_set_modules },
	{ .name = "load_module", .ctx = CONF_CTX_MAIN, .minargs = 1,
	  .maxargs = 1, .type = CONF_CUSTOM, .multi = 1,
	  .set = conf_set_load_module },
	{ .name = NULL }
};

const struct conf_directive *
conf_core_directives(void)
{
	return core_directives;
}

static int
set_host(struct conf_parse *p, const struct conf_directive *d, void *base,
    int argc, char **argv)
{
	struct tern_conf	*conf = base;
	struct conf_host	 h;
	size_t			 i;

	memset(&h, 0, sizeof(h));
	if ((h.name = jid_prep_domain(argv[1])) == NULL)
		return invalid(p, d, argv[1], "a domain name");
	for (i = 0; i < conf->nhosts; i++) {
		if (strcmp(conf->hosts[i].name, h.name) == 0) {
			conf_error(p, "duplicate host \"%s\" (first at line "
			    "%d)", h.name, conf->hosts[i].line);
			host_clear(&h);
			return -1;
		}
	}
	h.line = conf_line(p);
	if (conf_host_modules_begin(p, &h) == -1 ||
	    conf_block(p, core_directives, d->block_ctx, &h) == -1 ||
	    conf_host_modules_end(p, &h) == -1) {
		host_clear(&h);
		return -1;
	}
	conf->hosts = xreallocarray(conf->hosts, conf->nhosts + 1,
	    sizeof(*conf->hosts));
	conf->hosts[conf->nhosts++] = h;
	return 0;
}

/*
 * Loading and the checks that need the whole file.
 */

static int
same_host(const char *a, const char *b)
{
	unsigned char	ba[16], bb[16];

	if (strcmp(a, b) == 0)
		return 1;
	if (inet_pton(AF_INET6, a, ba) == 1 && inet_pton(AF_INET6, b, bb) == 1)
		return memcmp(ba, bb, 16) == 0;
	if (inet_pton(AF_INET, a, ba) == 1 && inet_pton(AF_INET, b, bb) == 1)
		return memcmp(ba, bb, 4) == 0;
	return 0;
}

/* listen.c binds "*" and "::" dual-stack: they also take 0.0.0.0. */
static int
is_wildcard(const char *h)
{
	return strcmp(h, "*") == 0 || same_host(h, "::") ||
	    same_host(h, "0.0.0.0");
}

static int
check_listen(struct conf_parse *p, const struct conf_listen *a,
    const struct conf_listen *b)
{
	if (a->port != b->port)
		return 0;
	if (same_host(a->host, b->host))
		return conf_error_at(p, b->line, "duplicate listen address "
		    "\"%s\" (first at line %d)", b->addr, a->line);
	if (is_wildcard(a->host) && is_wildcard(b->host))
		return conf_error_at(p, b->line, "listen address \"%s\" "
		    "overlaps \"%s\" (line %d): both listen on all addresses",
		    b->addr, a->addr, a->line);
	return 0;
}

static int
check_conf(struct conf_parse *p)
{
	const struct tern_conf	*c = p->conf;
	size_t			 i, j;

	if (c->nhosts == 0)
		return conf_error_at(p, eof_line(p), "no host block: at least "
		    "one \"host NAME { ... }\" is required");
	for (i = 0; i < c->nhosts; i++)
		if (c->hosts[i].cert == NULL)
			return conf_error_at(p, c->hosts[i].line, "host \"%s\" "
			    "has no certificate directive: add \"certificate "
			    "CERTFILE KEYFILE;\" to its block",
			    c->hosts[i].name);
	if (c->nlistens == 0)
		return conf_error_at(p, eof_line(p), "no listen directive: at "
		    "least one is required, e.g. listen c2s \"[::]:5222\";");
	for (i = 1; i < c->nlistens; i++)
		for (j = 0; j < i; j++)
			if (check_listen(p, &c->listens[j], &c->listens[i]) ==
			    -1)
				return -1;
	return 0;
}

/* Reports a NUL byte, which would cut a token short. */
static int
check_nul(struct conf_parse *p)
{
	const char	*nul, *c;
	int		 line = 1;

	if ((nul = memchr(p->start, '\0', p->end - p->start)) == NULL)
		return 0;
	for (c = p->start; c < nul; c++)
		line += *c == '\n';
	return conf_error_at(p, line, "NUL byte in configuration file");
}

static struct tern_conf *
load_buf(const char *buf, size_t len, const char *name, char *err,
    size_t errlen)
{
	struct conf_parse	 p;
	struct tern_conf	*conf;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	conf = xcalloc(1, sizeof(*conf));
	conf->file = xstrdup(name);
	memset(&p, 0, sizeof(p));
	p.name = name;
	p.start = p.cur = buf;
	p.end = buf + len;
	p.line = 1;
	p.conf = conf;
	p.err = err;
	p.errlen = errlen;
	if (check_nul(&p) == -1 ||
	    conf_block(&p, core_directives, CONF_CTX_MAIN, conf) == -1 ||
	    check_conf(&p) == -1) {
		conf_free(conf);
		return NULL;
	}
	return conf;
}

struct tern_conf *
conf_load_string(const char *text, const char *name, char *err,
    size_t errlen)
{
	return load_buf(text, strlen(text), name, err, errlen);
}

static char *
read_file(FILE *f, size_t *lenp)
{
	char	*buf = NULL;
	size_t	 len = 0, cap = 0, n;

	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 8192;
			buf = xreallocarray(buf, cap, 1);
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		free(buf);
		return NULL;
	}
	*lenp = len;
	return buf;
}

static void
file_error(const char *path, const char *what, char *err, size_t errlen)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: cannot %s: %s", path, what,
		    strerror(errno));
}

/* Makes *pathp absolute against dir ("" = leave it), in place. */
static void
resolve(char **pathp, const char *dir)
{
	char	*abs;

	if (*pathp == NULL || **pathp == '/' || *dir == '\0')
		return;
	xasprintf(&abs, "%s/%s", dir, *pathp);
	free(*pathp);
	*pathp = abs;
}

/*
 * Relative paths are relative to the folder of the configuration file,
 * so that they mean the same after ternd has changed its directory.
 */
static void
resolve_paths(struct tern_conf *conf, const char *path)
{
	char	*dir, *slash;
	size_t	 i;

	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	else
		*dir = '\0';
	if (*dir == '\0' && path[0] != '/') {
		free(dir);
		dir = realpath(".", NULL);
		if (dir == NULL)
			return;
	} else if (dir[0] != '/') {
		char	*real = realpath(dir, NULL);

		free(dir);
		if ((dir = real) == NULL)
			return;
	}
	resolve(&conf->data_dir, dir);
	resolve(&conf->pid_file, dir);
	resolve(&conf->s2s.ca_file, dir);
	if (conf->log_dest != NULL && strcmp(conf->log_dest, "stderr") != 0 &&
	    strcmp(conf->log_dest, "syslog") != 0)
		resolve(&conf->log_dest, dir);
	for (i = 0; i < conf->nhosts; i++) {
		resolve(&conf->hosts[i].cert, dir);
		resolve(&conf->hosts[i].key, dir);
	}
	free(dir);
}

struct tern_conf *
conf_load(const char *path, char *err, size_t errlen)
{
	struct tern_conf	*conf;
	FILE			*f;
	char			*buf;
	size_t			 len;

	if ((f = fopen(path, "r")) == NULL) {
		file_error(path, "open", err, errlen);
		return NULL;
	}
	if ((buf = read_file(f, &len)) == NULL) {
		file_error(path, "read", err, errlen);
		fclose(f);
		return NULL;
	}
	fclose(f);
	conf = load_buf(buf, len, path, err, errlen);
	free(buf);
	if (conf != NULL)
		resolve_paths(conf, path);
	return conf;
}

void
conf_free(struct tern_conf *conf)
{
	size_t	i;

	if (conf == NULL)
		return;
	for (i = 0; i < conf->nlistens; i++) {
		free(conf->listens[i].addr);
		free(conf->listens[i].host);
	}
	for (i = 0; i < conf->nhosts; i++)
		host_clear(&conf->hosts[i]);
	for (i = 0; i < conf->s2s.nroutes; i++) {
		free(conf->s2s.routes[i].domain);
		free(conf->s2s.routes[i].host);
	}
	free(conf->s2s.routes);
	free(conf->s2s.ca_file);
	free(conf->s2s.nameserver);
	free(conf->listens);
	free(conf->hosts);
	free(conf->file);
	free(conf->user);
	free(conf->group);
	free(conf->data_dir);
	free(conf->pid_file);
	free(conf->log_dest);
	free(conf);
}

const struct conf_s2s_route *
conf_s2s_route_find(const struct tern_conf *conf, const char *domain)
{
	size_t	i;

	for (i = 0; i < conf->s2s.nroutes; i++)
		if (strcmp(conf->s2s.routes[i].domain, domain) == 0)
			return &conf->s2s.routes[i];
	return NULL;
}

const struct conf_host *
conf_host_find(const struct tern_conf *conf, const char *domain)
{
	size_t	i;

	for (i = 0; i < conf->nhosts; i++)
		if (strcmp(conf->hosts[i].name, domain) == 0)
			return &conf->hosts[i];
	return NULL;
}
