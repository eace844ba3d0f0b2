/*-------------------------------------------------------------------------
 *
 * env_names.c
 *	  The environment variable names a workload may never set (see
 *	  env_names.h).  The workload's variables are meant for the workload
 *	  only, inside the sandbox; a name on this list changes what the
 *	  dynamic loader or the C library of a process does before or outside
 *	  its own code (load a library, read locale, charset or time zone data
 *	  from a path, write a trace or profile file, retune malloc), so it is
 *	  refused wherever a workload is checked: at publish, by the agent's
 *	  parser and by the sandbox just before bubblewrap starts.
 *
 * The list is glibc's (sysdeps/generic/unsecvars.h, the variables the
 * loader drops for set-user-id programs, and the Linux additions
 * LD_AOUT_*), taken as families where glibc reads a family: every LD_
 * and MALLOC_ name.  GMON_OUT_PREFIX (where a profiled program writes
 * gmon.out) is added.  Names compare without regard to case: a refusal
 * costs nothing, and a loader on another libc may fold case.
 *
 *-------------------------------------------------------------------------
 */
#include "env_names.h"

#include <stddef.h>
#include <strings.h>
#include <string.h>

static const char *const refused_names[] = {
	"GCONV_PATH", "GETCONF_DIR", "GLIBC_TUNABLES", "GMON_OUT_PREFIX",
	"HOSTALIASES", "LOCALDOMAIN", "LOCPATH", "NIS_PATH", "NLSPATH",
	"RESOLV_HOST_CONF", "RES_OPTIONS", "TMPDIR", "TZDIR"
};

static const char *const refused_prefixes[] = {"LD_", "MALLOC_"};

bool
lagbid_env_name_dangerous(const char *name)
{
	size_t		i;

	if (name == NULL)
		return true;
	for (i = 0; i < sizeof(refused_names) / sizeof(refused_names[0]); i++)
		if (strcasecmp(name, refused_names[i]) == 0)
			return true;
	for (i = 0; i < sizeof(refused_prefixes) / sizeof(refused_prefixes[0]); i++)
		if (strncasecmp(name, refused_prefixes[i], strlen(refused_prefixes[i])) == 0)
			return true;
	return false;
}

const char *
lagbid_env_names_refused(void)
{
	return "LD_*, MALLOC_*, GLIBC_TUNABLES, GCONV_PATH, GETCONF_DIR, GMON_OUT_PREFIX, "
		"HOSTALIASES, LOCALDOMAIN, LOCPATH, NIS_PATH, NLSPATH, RESOLV_HOST_CONF, "
		"RES_OPTIONS, TMPDIR, TZDIR";
}
