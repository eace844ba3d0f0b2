/*-------------------------------------------------------------------------
 *
 * regions.h
 *	  Regions, written once in plain C and compiled into both the extension
 *	  (src/resources.c, src/bids.c) and lagbid-agent (agent/policy.c): what
 *	  a region looks like, and which provider regions a task region
 *	  matches (DESIGN.md, market rule 4).
 *
 *-------------------------------------------------------------------------
 */
#ifndef LAGBID_REGIONS_H
#define LAGBID_REGIONS_H

#include <stdbool.h>

#define LAGBID_REGION_MAX_LEN 64

/*
 * NULL when region is lower-case words of letters and digits joined by
 * single hyphens, starting with a letter, at most 64 bytes ("eu",
 * "eu-west-1"); else what is wrong.
 */
extern const char *lagbid_region_rule(const char *region);

/*
 * A task region "eu" matches provider regions "eu" and "eu-*"; a task with
 * no region (NULL) matches every provider.
 */
extern bool lagbid_region_matches(const char *task_region, const char *provider_region);

#endif							/* LAGBID_REGIONS_H */
