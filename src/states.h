/*-------------------------------------------------------------------------
 *
 * states.h
 *	  The state machines of lagbid (task, bid, job, lease) as data, and the
 *	  event context that the transition trigger records.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LAGBID_STATES_H
#define LAGBID_STATES_H

typedef enum LagbidMachine
{
	MACHINE_TASK = 0,
	MACHINE_BID,
	MACHINE_JOB,
	MACHINE_LEASE,				/* a service job's lease (leases.h) */
	MACHINE__COUNT
} LagbidMachine;

/* task states, in lagbid.task_state's order */
typedef enum TaskState
{
	TASK_CREATED = 0,
	TASK_ACCEPTING_BIDS,
	TASK_BID_CLOSED,
	TASK_PROCESSING,
	TASK_COMPLETED,
	TASK_FAILED,
	TASK_CANCELLED
} TaskState;

typedef enum BidState
{
	BID_OPEN = 0,
	BID_WON,
	BID_LOST,
	BID_WITHDRAWN
} BidState;

typedef enum JobState
{
	JOB_PROCESSING = 0,
	JOB_SUBMITTED,
	JOB_COMPLETED,
	JOB_FAILED
} JobState;

typedef struct StateTransition
{
	LagbidMachine machine;
	int			from;
	int			to;
	const char *when;
} StateTransition;

typedef struct MachineInfo
{
	const char *name;			/* entity name: "task", "bid", "job" */
	const char *type_name;		/* the SQL enum: "task_state", ... */
	const char *const *states;	/* labels, in enum order */
	int			nstates;
	int			initial;		/* the state a row is born in */
} MachineInfo;

extern const MachineInfo lagbid_machines[MACHINE__COUNT];
extern const StateTransition lagbid_transitions[];
extern const int lagbid_ntransitions;

extern bool lagbid_transition_allowed(LagbidMachine m, int from, int to);
extern const char *lagbid_state_name(LagbidMachine m, int state);
extern int	lagbid_state_from_name(LagbidMachine m, const char *name);

/*
 * Event context: who acts and why, recorded by the trigger with each
 * transition.  The market functions set it; it is cleared at the end of
 * every transaction.  With no context the actor is the current user.
 */
extern void lagbid_event_actor(const char *actor);
extern void lagbid_event_reason(const char *reason);

#endif							/* LAGBID_STATES_H */
