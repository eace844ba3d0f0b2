/*-------------------------------------------------------------------------
 *
 * log.c
 *	  One line per event, to stderr, with a timestamp, the pid and a level,
 *	  in PostgreSQL's voice ("LOG:  bid placed on task 12 at 4.50/h"), or
 *	  one JSON object per line with --json.  Also the small file helpers
 *	  every module uses (whole-file reads, atomic writes, mkdir -p, rm -rf);
 *	  allocation is in xalloc.c.
 *
 *-------------------------------------------------------------------------
 */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static bool log_json = false;
static LogLevel log_min = LOG_LEVEL_LOG;

static const char *const level_names[] = {"DEBUG", "LOG", "WARNING", "ERROR", "FATAL"};

void
log_init(bool json, LogLevel min_level)
{
	log_json = json;
	log_min = min_level;
}

void
log_msg(LogLevel level, const char *event, const char *fmt,...)
{
	char		msg[4096];
	char		ts[64];
	char		line[8192 + 256];
	struct timeval tv;
	struct tm	tm;
	va_list		ap;
	int			n;

	if (level < log_min)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = (int) strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - n, ".%03d UTC", (int) (tv.tv_usec / 1000));

	if (log_json)
	{
		char		esc[8192 + 16];

		json_escape(msg, esc, sizeof(esc));
		n = snprintf(line, sizeof(line),
					 "{\"ts\": \"%s\", \"epoch\": %.3f, \"pid\": %d, \"level\": \"%s\", \"event\": \"%s\", \"message\": %s}\n",
					 ts, tv.tv_sec + tv.tv_usec / 1e6, (int) getpid(),
					 level_names[level], event ? event : "", esc);
	}
	else
		n = snprintf(line, sizeof(line), "%s [%d] %s:  %s\n",
					 ts, (int) getpid(), level_names[level], msg);
	if (n < 0)
		return;
	if ((size_t) n >= sizeof(line))
		n = sizeof(line) - 1;
	/* one write per line, so that lines from several processes never mix */
	if (write(STDERR_FILENO, line, n) < 0)
		return;
}

double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* the whole file, NUL-terminated; NULL (errno set) when missing or over max */
char *
read_file(const char *path, size_t max, size_t *len_out)
{
	int			fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t		cap = 4096,
				len = 0;
	char	   *buf;

	if (fd < 0)
		return NULL;
	buf = xmalloc(cap + 1);
	for (;;)
	{
		ssize_t		r;

		if (len == cap)
		{
			if (cap > max)
			{
				free(buf);
				close(fd);
				errno = EFBIG;
				return NULL;
			}
			char	   *bigger;

			cap *= 2;
			bigger = realloc(buf, cap + 1);
			if (bigger == NULL)
			{
				free(buf);
				close(fd);
				errno = ENOMEM;
				return NULL;
			}
			buf = bigger;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0)
		{
			if (errno == EINTR)
				continue;
			free(buf);
			close(fd);
			return NULL;
		}
		if (r == 0)
			break;
		len += r;
	}
	close(fd);
	if (len > max)
	{
		free(buf);
		errno = EFBIG;
		return NULL;
	}
	buf[len] = '\0';
	if (len_out)
		*len_out = len;
	return buf;
}

/*
 * Write to PATH.tmp and rename over PATH; durable: fsync first (the key's
 * config, the identity).  The caches the running agent rewrites every few
 * seconds are not synced: an fsync can take 100 ms on a busy disk, and the
 * main loop must answer a NOTIFY in milliseconds.
 */
int
write_file_atomic(const char *path, const char *data, size_t len, int mode, bool durable)
{
	char		tmp[4096];
	int			fd;
	size_t		off = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	while (off < len)
	{
		ssize_t		w = write(fd, data + off, len - off);

		if (w < 0)
		{
			if (errno == EINTR)
				continue;
			close(fd);
			unlink(tmp);
			return -1;
		}
		off += w;
	}
	if ((durable && fsync(fd) != 0) || close(fd) != 0)
	{
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) != 0)
	{
		unlink(tmp);
		return -1;
	}
	return 0;
}

int
mkdir_p(const char *path, int mode)
{
	char		buf[4096];
	size_t		len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
	{
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++)
	{
		if (*p == '/')
		{
			*p = '\0';
			if (mkdir(buf, mode) != 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	}
	if (mkdir(buf, mode) != 0 && errno != EEXIST)
		return -1;
	return 0;
}
