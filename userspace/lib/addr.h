/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef SLUICE_ADDR_H
#define SLUICE_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* "1.2.3.4:5" for an IPv4-mapped address, "[::1]:5" otherwise. Returns out. */
char *addr_format(const uint8_t addr[16], uint16_t port, char *out, size_t len);

/* Fill a sockaddr for a 16-byte address: sockaddr_in when it is
 * IPv4-mapped, sockaddr_in6 otherwise. Returns its length. */
socklen_t addr_to_sockaddr(const uint8_t addr[16], uint16_t port,
			   struct sockaddr_storage *ss);

/* Nonzero when addr is 127.0.0.0/8 (IPv4-mapped) or ::1. */
int addr_is_loopback(const uint8_t addr[16]);

/* Nonzero when addr is ::ffff:a.b.c.d. */
int addr_is_v4(const uint8_t addr[16]);

#endif
