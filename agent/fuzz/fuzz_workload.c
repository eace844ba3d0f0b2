/*-------------------------------------------------------------------------
 *
 * fuzz_workload.c
 *	  libFuzzer harness for the agent's use of jansson and of the shared
 *	  workload rules (src/rules/): any bytes either parse into a workload
 *	  whose every input path is safe and whose env holds no loader
 *	  variable, or are refused; nothing crashes or leaks.
 *
 *	  make -C agent fuzz FUZZ_SECONDS=60
 *
 *-------------------------------------------------------------------------
 */
#include "agent.h"

#include <stdlib.h>
#include <string.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Workload	wl;
	char		err[256];

	if (workload_parse((const char *) data, size, &wl, err, sizeof(err)) == 0)
	{
		char		why[128];

		if (wl.argc < 1 || wl.argc > WL_MAX_ARGS || wl.argv[wl.argc] != NULL)
			abort();
		for (int i = 0; i < wl.ninputs; i++)
			if (!workload_path_ok(wl.inputs[i].path, strlen(wl.inputs[i].path), why, sizeof(why)))
				abort();
		if (wl.output && !workload_path_ok(wl.output, strlen(wl.output), why, sizeof(why)))
			abort();
		if (wl.timeout_s < 1 || wl.timeout_s > WL_MAX_TIMEOUT)
			abort();
		for (int i = 0; i < wl.nenv; i++)
			if (lagbid_wl_env_name_dangerous(wl.env_names[i], strlen(wl.env_names[i])))
				abort();
		workload_free(&wl);
	}
	return 0;
}
