/*-------------------------------------------------------------------------
 *
 * fuzz_rows.c
 *	  libFuzzer harness for how the agent reads the market (issue 19,
 *	  defect 10): the bytes become a result set (rows split on '\n',
 *	  columns on '\t', "\N" is NULL) fed to the row readers of every query
 *	  the agent sends (discovery, my_jobs, notifications), and the same
 *	  bytes are a lagbid_tasks push payload.  Nothing may crash, leak or
 *	  accept a value outside its rule; the acknowledgement literal built
 *	  from what was read always fits.
 *
 *	  make -C agent fuzz FUZZ_SECONDS=60
 *
 *-------------------------------------------------------------------------
 */
#include "agent.h"

#include <stdlib.h>
#include <string.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_CELLS 4096

typedef struct FuzzRows
{
	int			ncols;
	const char *cell[MAX_CELLS];
	int			len[MAX_CELLS];
} FuzzRows;

static int
fuzz_get(const void *ctx, int row, int col, const char **value)
{
	const FuzzRows *f = ctx;
	int			i = row * f->ncols + col;

	if (f->cell[i] == NULL)
		return -1;
	*value = f->cell[i];
	return f->len[i];
}

static void
check_rows(const FuzzRows *f, int nrows)
{
	Rows		r = {nrows, f->ncols, fuzz_get, f};
	IdSet		ids = {0};

	for (int i = 0; i < nrows; i++)
	{
		TaskTerms	t;
		JobRow		j;
		NoticeRow	n;
		char		why[256];

		if (terms_from_row(&r, i, &t, why, sizeof(why)))
		{
			if (t.task_id < 1 || !(t.price_min <= t.price_max) || t.owner[0] == '\0' ||
				(!t.workload_null && (t.workload_bytes < 0 || strlen(t.workload_sha256) != 64)))
				abort();
		}
		if (job_from_row(&r, i, &j, why, sizeof(why)) && (j.job_id < 1 || j.task_id < 1))
			abort();
		/* service leases and probes: what is accepted is what the proxy and the prober may use */
		{
			LeaseRow	l;
			ProbeRow	p;

			if (lease_from_row(&r, i, &l, why, sizeof(why)) &&
				(l.lease_id < 1 || !lease_name_ok(l.name, strlen(l.name)) || l.port < 1 || l.port > 65535 ||
				 l.health_path[0] != '/' || strpbrk(l.health_path, " \r\n") != NULL ||
				 l.expected_status < 100 || l.expected_status > 599))
				abort();
			if (probe_from_row(&r, i, &p, why, sizeof(why)) &&
				(p.probe_id < 1 || !probe_nonce_ok(p.nonce, strlen(p.nonce)) ||
				 (strncmp(p.endpoint, "http://", 7) != 0 && strncmp(p.endpoint, "https://", 8) != 0) ||
				 strpbrk(p.endpoint, " \r\n") != NULL))
				abort();
		}
		if (notice_from_row(&r, i, &n))
		{
			if (n.id < 1 || strchr(n.kind, '\n') || strchr(n.payload, '\n'))
				abort();
			idset_add(&ids, n.id, 100);
		}
	}
	{
		char	   *lit = ids_array_literal(ids.ids, ids.n);

		if (lit[0] != '{' || lit[strlen(lit) - 1] != '}')
			abort();
		free(lit);
	}
	idset_free(&ids);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *buf = malloc(size + 1);
	FuzzRows   *f = calloc(1, sizeof(FuzzRows));
	int			ncells = 0,
				nrows = 0,
				width = -1;
	char	   *line;
	IdSet		pushed = {0};

	memcpy(buf, data, size);
	buf[size] = '\0';

	/* the same bytes as a push payload: ids only, bounded */
	if (push_payload_ids(buf, size, &pushed, 1000) > 0)
		for (int i = 0; i < pushed.n; i++)
			if (pushed.ids[i] < 1 || pushed.n > 1000)
				abort();
	idset_free(&pushed);

	/* rows of the first line's width; a ragged row ends the result */
	line = buf;
	while (line && ncells < MAX_CELLS)
	{
		char	   *next = memchr(line, '\n', (size_t) (buf + size - line));
		int			cols = 0;
		char	   *cell = line;

		if (next)
			*next = '\0';
		for (;;)
		{
			char	   *tab = strchr(cell, '\t');

			if (tab)
				*tab = '\0';
			if (ncells + cols >= MAX_CELLS)
				break;
			f->cell[ncells + cols] = strcmp(cell, "\\N") == 0 ? NULL : cell;
			f->len[ncells + cols] = (int) strlen(cell);
			cols++;
			if (!tab)
				break;
			cell = tab + 1;
		}
		if (width < 0)
			width = cols;
		if (cols != width)
			break;
		ncells += cols;
		nrows++;
		line = next ? next + 1 : NULL;
		if (line && line >= buf + size)
			break;
	}
	if (width > 0)
	{
		f->ncols = width;
		check_rows(f, nrows);
	}
	free(f);
	free(buf);
	return 0;
}
