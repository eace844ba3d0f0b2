/*-------------------------------------------------------------------------
 *
 * env_names.h
 *	  Which environment variable names a workload may never set: those that
 *	  configure the dynamic loader or the C library.  Plain C, no
 *	  PostgreSQL header, so that the extension (the workload validator at
 *	  publish) and lagbid-agent (its parser, and the sandbox itself as a
 *	  last check) compile the same list.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LAGBID_ENV_NAMES_H
#define LAGBID_ENV_NAMES_H

#include <stdbool.h>

/*
 * True when NAME (NUL-terminated, compared without regard to case) is
 * LD_*, MALLOC_*, GLIBC_TUNABLES, or one of the variables glibc removes
 * from the environment of set-user-id programs (sysdeps/generic/unsecvars.h:
 * GCONV_PATH, GETCONF_DIR, HOSTALIASES, LOCALDOMAIN, LOCPATH, NIS_PATH,
 * NLSPATH, RESOLV_HOST_CONF, RES_OPTIONS, TMPDIR, TZDIR), or GMON_OUT_PREFIX.
 */
extern bool lagbid_env_name_dangerous(const char *name);

/* the same list, for messages: "LD_*, MALLOC_*, GLIBC_TUNABLES, ..." */
extern const char *lagbid_env_names_refused(void);

#endif							/* LAGBID_ENV_NAMES_H */
