/*-------------------------------------------------------------------------
 *
 * identity.h
 *	  Pure C validators of libp2p identities: peer ids (base58btc
 *	  multihash) and multiaddrs.  No PostgreSQL headers here or in the .c
 *	  files of this directory, so that they build stand-alone for the unit
 *	  tests (test/unit) and the libFuzzer harnesses (test/fuzz).
 *
 * Every function returns NULL when the input is valid, or a static English
 * sentence fragment saying what is wrong ("invalid base58 character '0' at
 * offset 3").  Inputs are (pointer, length) pairs: they need not be NUL
 * terminated and may contain NUL bytes (which are invalid).
 *
 *-------------------------------------------------------------------------
 */
#ifndef LAGBID_IDENTITY_H
#define LAGBID_IDENTITY_H

#include <stddef.h>

/* longest peer id text accepted, and longest multiaddr text */
#define LB_PEERID_MAX_LEN	128
#define LB_MULTIADDR_MAX_LEN	1024

/*
 * base58btc (bitcoin alphabet) decode of src[0..len) into out (capacity
 * outcap).  Returns the decoded length, or -1 on a bad character or when
 * the result does not fit.
 */
extern int	lb_base58_decode(const char *src, size_t len, unsigned char *out, size_t outcap);

/*
 * base58btc encode of src[0..len) (at most 256 bytes) into out, NUL
 * terminated.  Returns the text length, or -1 when it does not fit.
 */
extern int	lb_base58_encode(const unsigned char *src, size_t len, char *out, size_t outcap);

/*
 * A libp2p peer id in its legacy base58btc text form: a multihash that is
 * either identity (0x00) of a protobuf-encoded public key of at most 42
 * bytes (ed25519 keys: "12D3KooW...") or sha2-256 (0x12, length 0x20:
 * "Qm...").  The digest length must match the multihash header exactly.
 */
extern const char *lb_peerid_check(const char *s, size_t len);

/* length of an ed25519 public key, and of a signature made with it */
#define LB_ED25519_KEY_LEN	32
#define LB_ED25519_SIG_LEN	64

/*
 * The ed25519 public key embedded in a peer id ("12D3KooW..."): copies its
 * 32 bytes into key and returns NULL, or says why there is none (an invalid
 * peer id, a sha2-256 "Qm..." id which holds only a hash of its key, or a
 * key of another type).
 */
extern const char *lb_peerid_ed25519_key(const char *s, size_t len,
										 unsigned char key[LB_ED25519_KEY_LEN]);

/*
 * Why an ed25519 public key can prove nothing, or NULL when it can: not
 * canonically encoded (y >= 2^255 - 19), or one of the eight points of small
 * order (ed25519.c).
 */
extern const char *lb_ed25519_key_problem(const unsigned char key[LB_ED25519_KEY_LEN]);

/*
 * A multiaddr in text form: "/proto/value/proto/value...".  Known
 * protocols: ip4, ip6, dns, dns4, dns6, dnsaddr, tcp, udp, quic, quic-v1,
 * ws, wss, tls, http, https, p2p.  ip4 dotted quad with each part 0..255 and
 * no leading zeros; ip6 per RFC 4291 text (with :: and an embedded ip4
 * tail); dns names 1..253 bytes of labels 1..63 of [A-Za-z0-9-] not
 * starting or ending with '-'; tcp/udp ports 0..65535 decimal without
 * leading zeros; p2p value a valid peer id which, when node_id is not NULL,
 * must equal node_id.  The address must start with ip4/ip6/dns* and a
 * transport must follow an address; quic/quic-v1 only after udp; ws, wss,
 * tls, http, https only after tcp (or tls); p2p last.
 */
extern const char *lb_multiaddr_check(const char *s, size_t len,
									  const char *node_id, size_t node_id_len);

#endif							/* LAGBID_IDENTITY_H */
