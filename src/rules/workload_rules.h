/*-------------------------------------------------------------------------
 *
 * workload_rules.h
 *	  The workload contract's rules, written once in plain C (no PostgreSQL
 *	  header, no libpq, no JSON library) and compiled into both the
 *	  extension (src/workload.c walks jsonb with them) and lagbid-agent
 *	  (agent/workload.c walks jansson values with them).  Each predicate
 *	  returns NULL when the value is acceptable, else the rule it breaks as
 *	  a phrase that follows the field's name ("must be relative").
 *
 *	  docs/0.3/work.md and docs/0.4/agent-input.md describe the rules.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LAGBID_WORKLOAD_RULES_H
#define LAGBID_WORKLOAD_RULES_H

#include <stdbool.h>
#include <stddef.h>

/* the caps: part of the contract */
#define LAGBID_WL_MAX_BYTES			(4 * 1024 * 1024)	/* workload::text */
#define LAGBID_WL_MAX_ARGS			64
#define LAGBID_WL_MAX_ARG_BYTES		4096
#define LAGBID_WL_MAX_ENV			64
#define LAGBID_WL_MAX_ENV_NAME		128
#define LAGBID_WL_MAX_ENV_VALUE		4096
#define LAGBID_WL_MAX_INPUTS		64
#define LAGBID_WL_MAX_PATH			255
#define LAGBID_WL_MAX_CONTENT		(1024 * 1024)	/* decoded bytes per input */
#define LAGBID_WL_MAX_URI			2048
#define LAGBID_WL_MAX_TIMEOUT		86400
#define LAGBID_WL_DEFAULT_TIMEOUT	600

/* the keys of the workload object and of one input */
extern bool lagbid_wl_top_key_ok(const char *key, size_t len);
extern bool lagbid_wl_input_key_ok(const char *key, size_t len);

/*
 * A service workload (issue 21) adds the object "service": port (required,
 * 1..65535), health_path (printable ASCII starting with "/", at most 256
 * bytes; default "/"), expected_status (100..599; default 200),
 * startup_timeout_s (1..86400; default 1800).
 */
#define LAGBID_WL_MAX_HEALTH_PATH			256
#define LAGBID_WL_DEFAULT_HEALTH_PATH		"/"
#define LAGBID_WL_DEFAULT_EXPECTED_STATUS	200
#define LAGBID_WL_DEFAULT_STARTUP_TIMEOUT	1800

/* the keys of the "service" object */
extern bool lagbid_wl_service_key_ok(const char *key, size_t len);

/* a whole number from 1 to 65535 */
extern const char *lagbid_wl_port_rule(double port);

/* "/" then printable ASCII (0x21..0x7e), at most 256 bytes */
extern const char *lagbid_wl_health_path_rule(const char *s, size_t len);

/* a whole number from 100 to 599 */
extern const char *lagbid_wl_expected_status_rule(double status);

/* a whole number of seconds from 1 to 86400 */
extern const char *lagbid_wl_startup_timeout_rule(double seconds);

/* a string of at most max bytes, no NUL; empty only when allow_empty */
extern const char *lagbid_wl_string_rule(const char *s, size_t len, size_t max,
										 bool allow_empty);

/*
 * An env name: ^[A-Za-z_][A-Za-z0-9_]{0,127}$ and not one that configures
 * the dynamic loader or the C library (see lagbid_wl_env_name_dangerous).
 */
extern const char *lagbid_wl_env_name_rule(const char *name, size_t len);

/*
 * LD_*, MALLOC_*, GLIBC_TUNABLES and glibc's list of variables it drops
 * for set-user-id programs (GCONV_PATH, LOCPATH, HOSTALIASES, ...),
 * compared without regard to case.
 */
extern bool lagbid_wl_env_name_dangerous(const char *name, size_t len);

/*
 * A relative path in the job's work directory: 1..255 bytes, not
 * absolute, no empty, "." or ".." component, no backslash, no control
 * character.
 */
extern const char *lagbid_wl_path_rule(const char *path, size_t len);

/*
 * Canonical padded standard base64 (RFC 4648 section 4; the unused bits of
 * the last group zero, section 3.5; no whitespace), decoding to at most
 * LAGBID_WL_MAX_CONTENT bytes.  *decoded_len gets the decoded size.
 */
extern const char *lagbid_wl_base64_rule(const char *s, size_t len, size_t *decoded_len);

/* decodes what lagbid_wl_base64_rule accepted; -1 when it would not */
extern long lagbid_wl_base64_decode(const char *s, size_t len, unsigned char *out,
									size_t outcap);

/* file://, http:// or https://, 1..2048 bytes, no space or control character */
extern const char *lagbid_wl_uri_rule(const char *uri, size_t len);

/* 64 lower-case hex digits */
extern const char *lagbid_wl_sha256_rule(const char *s, size_t len);

/* a whole number of seconds from 1 to LAGBID_WL_MAX_TIMEOUT */
extern const char *lagbid_wl_timeout_rule(double seconds);

#endif							/* LAGBID_WORKLOAD_RULES_H */
