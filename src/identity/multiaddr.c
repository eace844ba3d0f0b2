/*-------------------------------------------------------------------------
 *
 * multiaddr.c
 *	  Validation of libp2p multiaddrs in text form, restricted to the
 *	  protocols a lagbid node may announce (see identity.h for the rules).
 *
 * The address is read component by component with a small state machine:
 *
 *	START	-> ip4|ip6|dns|dns4|dns6 <name> ADDR
 *			-> dnsaddr <name> DNSADDR
 *			-> p2p|ipfs <peer id> P2P
 *	ADDR	-> tcp <port> TCP | udp <port> UDP
 *	TCP		-> tls TLS | ws|wss|http|https WEB | p2p P2P | end
 *	TLS		-> ws|wss|http|https WEB | p2p P2P | end
 *	UDP		-> quic|quic-v1 QUIC | p2p P2P | end
 *	QUIC, WEB, DNSADDR -> p2p P2P | end
 *	P2P		-> end
 *
 * Every error is a static string.  A bad /p2p/ value is reported as such
 * without the peer id's own reason; lb_peerid_check() on the value gives it.
 * Pure C: no PostgreSQL headers (see identity.h).
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

#include "identity.h"

#define DNS_NAME_MAX	253
#define DNS_LABEL_MAX	63

typedef enum ProtoKind
{
	PK_IP4,
	PK_IP6,
	PK_DNS,						/* dns, dns4, dns6 */
	PK_DNSADDR,
	PK_TCP,
	PK_UDP,
	PK_QUIC,					/* quic, quic-v1 */
	PK_TLS,
	PK_WEB,						/* ws, wss, http, https */
	PK_P2P						/* p2p, ipfs */
} ProtoKind;

typedef enum MaState
{
	ST_START,
	ST_ADDR,
	ST_DNSADDR,
	ST_TCP,
	ST_TLS,
	ST_UDP,
	ST_QUIC,
	ST_WEB,
	ST_P2P
} MaState;

typedef struct Proto
{
	const char *name;
	ProtoKind	kind;
	int			has_value;
	const char *missing;		/* error when the value is missing */
} Proto;

static const Proto protos[] = {
	{"ip4", PK_IP4, 1, "has /ip4 without an address"},
	{"ip6", PK_IP6, 1, "has /ip6 without an address"},
	{"dns", PK_DNS, 1, "has /dns without a name"},
	{"dns4", PK_DNS, 1, "has /dns4 without a name"},
	{"dns6", PK_DNS, 1, "has /dns6 without a name"},
	{"dnsaddr", PK_DNSADDR, 1, "has /dnsaddr without a name"},
	{"tcp", PK_TCP, 1, "has /tcp without a port"},
	{"udp", PK_UDP, 1, "has /udp without a port"},
	{"quic", PK_QUIC, 0, NULL},
	{"quic-v1", PK_QUIC, 0, NULL},
	{"tls", PK_TLS, 0, NULL},
	{"ws", PK_WEB, 0, NULL},
	{"wss", PK_WEB, 0, NULL},
	{"http", PK_WEB, 0, NULL},
	{"https", PK_WEB, 0, NULL},
	{"p2p", PK_P2P, 1, "has /p2p without a peer id"},
	{"ipfs", PK_P2P, 1, "has /ipfs without a peer id"}
};

#define NPROTOS (sizeof(protos) / sizeof(protos[0]))

static const Proto *
find_proto(const char *s, size_t len)
{
	size_t		i;

	for (i = 0; i < NPROTOS; i++)
	{
		if (strlen(protos[i].name) == len &&
			memcmp(protos[i].name, s, len) == 0)
			return &protos[i];
	}
	return NULL;
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * A dotted quad: four decimal parts 0..255 without leading zeros.
 */
static const char *
check_ip4(const char *s, size_t len)
{
	size_t		i = 0;
	int			part;

	for (part = 0; part < 4; part++)
	{
		size_t		start = i;
		unsigned int value = 0;

		if (part > 0)
		{
			if (i >= len || s[i] != '.')
				return "has an ip4 address that is not a dotted quad";
			start = ++i;
		}
		while (i < len && is_digit(s[i]))
		{
			/* more than 3 digits is out of range or a leading zero */
			if (i - start < 3)
				value = value * 10 + (unsigned int) (s[i] - '0');
			else
				value = 256;
			i++;
		}
		if (i == start)
			return "has an ip4 address that is not a dotted quad";
		if (s[start] == '0' && i - start > 1)
			return "has an ip4 address with a leading zero";
		if (value > 255)
			return "has an ip4 address out of range";
	}
	if (i != len)
		return "has an ip4 address that is not a dotted quad";
	return NULL;
}

/*
 * RFC 4291 section 2.2 text: eight groups of 1..4 hex digits separated by
 * ':', one run of zero groups replaceable by "::", and the last two groups
 * replaceable by a dotted quad.  No zone index.
 */
static const char *
check_ip6(const char *s, size_t len)
{
	size_t		i = 0;
	int			groups = 0;
	int			compressed = 0;

	if (len >= 2 && s[0] == ':' && s[1] == ':')
	{
		compressed = 1;
		i = 2;
	}
	else if (len >= 1 && s[0] == ':')
		return "has an ip6 address that starts with a single ':'";

	while (i < len)
	{
		size_t		start = i;
		size_t		end = i;
		int			dotted = 0;

		while (end < len && s[end] != ':')
		{
			if (s[end] == '.')
				dotted = 1;
			end++;
		}

		if (dotted)
		{
			/* an embedded ip4 address, only as the last two groups */
			if (end != len)
				return "has an ip6 address with an ip4 part that is not at the end";
			if (check_ip4(s + start, end - start) != NULL)
				return "has an ip6 address with an invalid ip4 part";
			groups += 2;
			break;
		}

		if (end == start)
			return "has an ip6 address with an empty group (':::' or more than one '::')";
		for (i = start; i < end; i++)
		{
			if (!is_hex(s[i]))
				return "has an ip6 address with a character that is not a hex digit";
		}
		if (end - start > 4)
			return "has an ip6 address with a group of more than 4 hex digits";
		groups++;
		if (groups > 8)
			return "has an ip6 address with more than 8 groups";

		if (i == len)
			break;
		/* s[i] is ':' */
		i++;
		if (i == len)
			return "has an ip6 address that ends with a single ':'";
		if (s[i] == ':')
		{
			if (compressed)
				return "has an ip6 address with more than one '::'";
			compressed = 1;
			i++;
		}
	}

	if (groups > 8)
		return "has an ip6 address with more than 8 groups";
	if (compressed && groups > 7)
		return "has an ip6 address with '::' and 8 groups";
	if (!compressed && groups != 8)
		return "has an ip6 address with fewer than 8 groups and no '::'";
	return NULL;
}

/*
 * A dns name: 1..253 bytes, dot-separated labels of 1..63 letters, digits
 * and '-', not starting or ending with '-'.  No trailing dot.
 */
static const char *
check_dns(const char *s, size_t len)
{
	size_t		i = 0;

	if (len > DNS_NAME_MAX)
		return "has a dns name longer than 253 bytes";

	while (i <= len)
	{
		size_t		start = i;

		while (i < len && s[i] != '.')
		{
			char		c = s[i];

			if (!(is_digit(c) || (c >= 'a' && c <= 'z') ||
				  (c >= 'A' && c <= 'Z') || c == '-'))
				return "has a dns name with a character other than letters, digits, '-' and '.'";
			i++;
		}
		if (i == start)
			return "has a dns name with an empty label";
		if (i - start > DNS_LABEL_MAX)
			return "has a dns name with a label longer than 63 bytes";
		if (s[start] == '-' || s[i - 1] == '-')
			return "has a dns name with a label that starts or ends with '-'";
		/* skip the dot; past the end when this was the last label */
		i++;
	}
	return NULL;
}

/*
 * A tcp or udp port: decimal 0..65535 without leading zeros.
 */
static const char *
check_port(const char *s, size_t len)
{
	size_t		i;
	unsigned long value = 0;

	for (i = 0; i < len; i++)
	{
		if (!is_digit(s[i]))
			return "has a port that is not a decimal number";
	}
	if (len > 1 && s[0] == '0')
		return "has a port with a leading zero";
	if (len > 5)
		return "has a port out of range (0..65535)";
	for (i = 0; i < len; i++)
		value = value * 10 + (unsigned long) (s[i] - '0');
	if (value > 65535)
		return "has a port out of range (0..65535)";
	return NULL;
}

/*
 * The state after 'kind' in state 'st', or ST_START (never a successor)
 * with *err set when the protocol may not come here.
 */
static MaState
next_state(MaState st, ProtoKind kind, const char **err)
{
	switch (kind)
	{
		case PK_IP4:
		case PK_IP6:
		case PK_DNS:
		case PK_DNSADDR:
			if (st == ST_START)
				return kind == PK_DNSADDR ? ST_DNSADDR : ST_ADDR;
			*err = "has an address that is not at the start";
			break;
		case PK_TCP:
		case PK_UDP:
			if (st == ST_ADDR)
				return kind == PK_TCP ? ST_TCP : ST_UDP;
			if (st == ST_START)
				*err = "does not start with an ip4, ip6, dns, dnsaddr or p2p component";
			else
				*err = "has /tcp or /udp that does not follow an ip4, ip6 or dns address";
			break;
		case PK_QUIC:
			if (st == ST_UDP)
				return ST_QUIC;
			if (st == ST_START)
				*err = "does not start with an ip4, ip6, dns, dnsaddr or p2p component";
			else
				*err = "has /quic or /quic-v1 that does not follow /udp";
			break;
		case PK_TLS:
			if (st == ST_TCP)
				return ST_TLS;
			if (st == ST_START)
				*err = "does not start with an ip4, ip6, dns, dnsaddr or p2p component";
			else
				*err = "has /tls that does not follow /tcp";
			break;
		case PK_WEB:
			if (st == ST_TCP || st == ST_TLS)
				return ST_WEB;
			if (st == ST_START)
				*err = "does not start with an ip4, ip6, dns, dnsaddr or p2p component";
			else
				*err = "has /ws, /wss, /http or /https that does not follow /tcp or /tls";
			break;
		case PK_P2P:
			if (st == ST_ADDR)
				*err = "has an address without a transport (tcp or udp) before /p2p";
			else
				return ST_P2P;
			break;
	}
	return ST_START;
}

/*
 * NULL if s[0..len) is a valid multiaddr (whose /p2p/ component, if any,
 * equals node_id[0..node_id_len) when node_id is not NULL), else what is
 * wrong with it.
 */
const char *
lb_multiaddr_check(const char *s, size_t len,
				   const char *node_id, size_t node_id_len)
{
	MaState		st = ST_START;
	size_t		i = 0;

	if (s == NULL || len == 0)
		return "is empty";
	if (len > LB_MULTIADDR_MAX_LEN)
		return "is longer than 1024 characters";
	if (memchr(s, '\0', len) != NULL)
		return "contains a NUL byte";
	if (s[0] != '/')
		return "does not start with '/'";
	if (s[len - 1] == '/')
		return "ends with '/'";

	while (i < len)
	{
		const Proto *proto;
		const char *name;
		const char *value = NULL;
		const char *err = NULL;
		size_t		namelen;
		size_t		valuelen = 0;
		MaState		next;

		/* s[i] is '/' and s[i + 1] exists: the string does not end in '/' */
		name = s + ++i;
		while (i < len && s[i] != '/')
			i++;
		namelen = (size_t) (s + i - name);
		if (namelen == 0)
			return "has an empty component";

		if (st == ST_P2P)
			return "has a component after /p2p";

		proto = find_proto(name, namelen);
		if (proto == NULL)
			return "has an unknown protocol";

		next = next_state(st, proto->kind, &err);
		if (err != NULL)
			return err;

		if (proto->has_value)
		{
			if (i == len)
				return proto->missing;
			value = s + ++i;
			while (i < len && s[i] != '/')
				i++;
			valuelen = (size_t) (s + i - value);
			if (valuelen == 0)
				return "has an empty component";
		}

		switch (proto->kind)
		{
			case PK_IP4:
				err = check_ip4(value, valuelen);
				break;
			case PK_IP6:
				err = check_ip6(value, valuelen);
				break;
			case PK_DNS:
			case PK_DNSADDR:
				err = check_dns(value, valuelen);
				break;
			case PK_TCP:
			case PK_UDP:
				err = check_port(value, valuelen);
				break;
			case PK_P2P:
				if (lb_peerid_check(value, valuelen) != NULL)
					err = "has a /p2p component that is not a valid peer id";
				else if (node_id != NULL &&
						 (node_id_len != valuelen ||
						  memcmp(node_id, value, valuelen) != 0))
					err = "has a /p2p component that is not this node's id";
				break;
			case PK_QUIC:
			case PK_TLS:
			case PK_WEB:
				break;
		}
		if (err != NULL)
			return err;
		st = next;
	}

	if (st == ST_ADDR)
		return "has an address without a transport (tcp or udp)";
	return NULL;
}
