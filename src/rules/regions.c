/*-------------------------------------------------------------------------
 *
 * regions.c
 *	  The region rules both sides apply (regions.h): the extension refuses
 *	  an invalid region and matches bids with them; the agent declines a
 *	  task whose region does not match its own with the same function.
 *	  Plain C, no PostgreSQL header.
 *
 *-------------------------------------------------------------------------
 */
#include "regions.h"

#include <string.h>

const char *
lagbid_region_rule(const char *region)
{
	size_t		len,
				i;

	if (region == NULL)
		return "must not be NULL";
	len = strlen(region);
	if (len == 0 || len > LAGBID_REGION_MAX_LEN)
		return "must be 1 to 64 bytes long";
	if (!(region[0] >= 'a' && region[0] <= 'z') || region[len - 1] == '-')
		return "must start with a lower-case letter and not end with a hyphen";
	for (i = 0; i < len; i++)
	{
		char		c = region[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return "may hold only lower-case letters, digits and hyphens";
		if (c == '-' && region[i + 1] == '-')
			return "must not hold two hyphens in a row";
	}
	return NULL;
}

bool
lagbid_region_matches(const char *task_region, const char *provider_region)
{
	size_t		n;

	if (task_region == NULL)
		return true;
	if (provider_region == NULL)
		return false;
	n = strlen(task_region);
	return strncmp(task_region, provider_region, n) == 0 &&
		(provider_region[n] == '\0' || provider_region[n] == '-');
}
