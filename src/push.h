/*-------------------------------------------------------------------------
 *
 * push.h
 *	  The push off the market's commits: the market queues ids in
 *	  lagbid.push_queue (push.c) and the database's push worker sends the
 *	  NOTIFYs after the commit (push_worker.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef LAGBID_PUSH_H
#define LAGBID_PUSH_H

#include "postgres.h"

/* pg_stat_activity.backend_type of the push worker */
#define LAGBID_PUSH_BACKEND_TYPE "lagbid push"

/* the channels and what their payloads name */
#define LAGBID_CHANNEL_NOTIFICATIONS "lagbid"	/* {"id": N} / {"ids": [...]} */
#define LAGBID_CHANNEL_TASKS "lagbid_tasks" /* {"task_id": N} / {"task_ids": [...]} */

/* settings (lagbid.c) */
extern int	lagbid_push_idle_timeout;	/* lagbid.push_idle_timeout, seconds */
extern int	lagbid_push_poll_interval;	/* lagbid.push_poll_interval, ms */

/*
 * Whether the schema has lagbid.push_queue (0.4).  Without it (a database
 * not yet updated to 0.4) the market NOTIFYs in its own transaction, as
 * before.
 */
extern bool lagbid_push_queued(void);

/*
 * The current transaction queued a push: make sure the worker runs (at
 * most one catalog read per transaction) and wake it at commit.
 */
extern void lagbid_push_note(void);

/* tick(): start the worker if rows wait and none runs */
extern void lagbid_push_kick(void);

#endif							/* LAGBID_PUSH_H */
