/*-------------------------------------------------------------------------
 *
 * xalloc.c
 *	  Allocation that cannot fail silently: xmalloc, xcalloc, xrealloc,
 *	  xstrdup, xstrndup log "out of memory" and abort instead of returning
 *	  NULL, so that no caller has a NULL path to forget.  Sizes are checked
 *	  for overflow (n * m, n + 1) before the C library sees them.
 *
 *-------------------------------------------------------------------------
 */
#include "agent.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void
out_of_memory(void)
{
	log_msg(LOG_LEVEL_FATAL, "oom", "out of memory");
	abort();
}

void *
xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
		out_of_memory();
	return p;
}

void *
xcalloc(size_t n, size_t m)
{
	void	   *p;

	if (m != 0 && n > SIZE_MAX / m)
		out_of_memory();
	p = calloc(n ? n : 1, m ? m : 1);
	if (p == NULL)
		out_of_memory();
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void	   *q = realloc(p, n ? n : 1);

	if (q == NULL)
		out_of_memory();
	return q;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char	   *p;

	if (n == SIZE_MAX)
		out_of_memory();
	p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}
