/*
 * Logging: levels, to stderr, a file or syslog.  Lines about a connection
 * are written with conn_log() (conn.h), which prefixes the connection id
 * and, once known, its JID or address.  Never log secrets above debug.
 */
#ifndef TERN_LOG_H
#define TERN_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

/*
 * dest: NULL or "stderr", "syslog", or a file path (opened for append).
 * Returns 0, or -1 with errno set when the file cannot be opened (the old
 * destination stays in use).
 */
int	 log_init(int level, const char *dest, const char *progname);
void	 log_setlevel(int);
int	 log_getlevel(void);
int	 log_level_parse(const char *);	/* "error".."debug" or -1 */
const char *log_level_name(int);

void	 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
/* One line at level (enum log_level), without errno. */
void	 log_msg(int, const char *, ...) __attribute__((format(printf, 2, 3)));
void	 log_vmsg(int, int, const char *, va_list)
	    __attribute__((format(printf, 3, 0)));
void	 fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
void	 fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
