/*
 * Logging backend.  One destination at a time; log_init() may be called
 * again on reload.  log_warn/fatal append strerror(errno).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <sys/time.h>

#include "log.h"

static int	 cur_level = LOG_LVL_INFO;
static FILE	*cur_file;		/* NULL: stderr */
static int	 use_syslog;

static const char *const level_names[] = { "error", "warn", "info", "debug" };
static const int syslog_prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

int
log_level_parse(const char *s)
{
	size_t	i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
log_level_name(int level)
{
	if (level < 0 || level > LOG_LVL_DEBUG)
		return "?";
	return level_names[level];
}

int
log_init(int level, const char *dest, const char *progname)
{
	FILE	*f = NULL;

	if (dest != NULL && strcmp(dest, "stderr") != 0 &&
	    strcmp(dest, "syslog") != 0) {
		if ((f = fopen(dest, "a")) == NULL)
			return -1;
		setvbuf(f, NULL, _IOLBF, 0);
	}
	if (cur_file != NULL)
		fclose(cur_file);
	if (use_syslog)
		closelog();
	cur_file = f;
	use_syslog = dest != NULL && strcmp(dest, "syslog") == 0;
	if (use_syslog)
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	cur_level = level;
	return 0;
}

void
log_setlevel(int level)
{
	cur_level = level;
}

int
log_getlevel(void)
{
	return cur_level;
}

void
log_vmsg(int level, int with_errno, const char *fmt, va_list ap)
{
	char		 msg[2048], stamp[32];
	int		 saved = errno;
	struct timeval	 tv;
	struct tm	 tm;
	FILE		*out;

	if (level > cur_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		size_t	len = strlen(msg);

		snprintf(msg + len, sizeof(msg) - len, ": %s",
		    strerror(saved));
	}
	if (use_syslog) {
		syslog(syslog_prio[level], "%s", msg);
	} else {
		out = cur_file != NULL ? cur_file : stderr;
		gettimeofday(&tv, NULL);
		localtime_r(&tv.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
		fprintf(out, "%s.%03d %-5s %s\n", stamp,
		    (int)(tv.tv_usec / 1000), level_names[level], msg);
	}
	errno = saved;
}

#define LOG_FN(fn, lvl, err)				\
void							\
fn(const char *fmt, ...)				\
{							\
	va_list	ap;					\
							\
	va_start(ap, fmt);				\
	log_vmsg(lvl, err, fmt, ap);			\
	va_end(ap);					\
}

LOG_FN(log_warn, LOG_LVL_WARN, 1)
LOG_FN(log_warnx, LOG_LVL_WARN, 0)
LOG_FN(log_info, LOG_LVL_INFO, 0)
LOG_FN(log_debug, LOG_LVL_DEBUG, 0)

void
log_msg(int level, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(level, 0, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERROR, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
