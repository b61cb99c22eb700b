// SPDX-License-Identifier: BSD-2-Clause
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "addr.h"

int addr_is_v4(const uint8_t addr[16])
{
	static const uint8_t prefix[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(addr, prefix, sizeof(prefix));
}

int addr_is_loopback(const uint8_t addr[16])
{
	static const uint8_t v6_lo[16] = { [15] = 1 };

	return addr_is_v4(addr) ? addr[12] == 127 : !memcmp(addr, v6_lo, 16);
}

char *addr_format(const uint8_t addr[16], uint16_t port, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (addr_is_v4(addr)) {
		inet_ntop(AF_INET, addr + 12, ip, sizeof(ip));
		snprintf(out, len, "%s:%u", ip, port);
	} else {
		inet_ntop(AF_INET6, addr, ip, sizeof(ip));
		snprintf(out, len, "[%s]:%u", ip, port);
	}
	return out;
}

socklen_t addr_to_sockaddr(const uint8_t addr[16], uint16_t port,
			   struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (addr_is_v4(addr)) {
		struct sockaddr_in *in = (void *)ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		memcpy(&in->sin_addr, addr + 12, 4);
		return sizeof(*in);
	}
	struct sockaddr_in6 *in6 = (void *)ss;

	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(port);
	memcpy(&in6->sin6_addr, addr, 16);
	return sizeof(*in6);
}
