// SPDX-License-Identifier: BSD-2-Clause
/*
 * Fuzz target for userspace/k8s/podcache.c: what a hostile API server
 * could send the pod cache.
 *
 * Input: one control byte, then the bytes.
 *   control % 2 == 0: one watch event line for podcache_parse_event(),
 *     applied to a pod table as the cache would;
 *   control % 2 == 1: a list page for podcache_parse_list(), applied as a
 *     full list to the same table.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *	-Iuserspace -Iuserspace/lib tests/fuzz/podcache_fuzz.c \
 *	userspace/k8s/podcache.c userspace/pods.c userspace/lib/log.c \
 *	userspace/lib/text.c \
 *	-lcurl -ljansson -lpthread -o build/podcache_fuzz &&
 *	build/podcache_fuzz tests/fuzz/corpus/podcache
 *
 * Linked with tests/fuzz/replay.c instead of -fsanitize=fuzzer, it runs
 * each file named on the command line once: the seed corpus as a
 * regression test.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "k8s/podcache.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pod_table *t;
	static struct podcache_set *s;
	char err[256], rv[PODCACHE_RV_LEN + 1], *cont = NULL;
	struct pod_info **pods = NULL;
	struct podcache_event ev;
	size_t n = 0;

	if (!t) {
		log_set_level(LOG_ERROR);	/* skipped items would flood */
		t = pod_table_new();
		s = podcache_set_new();
		if (!t || !s)
			abort();
	}
	if (size < 1)
		return 0;
	if (data[0] % 2 == 0) {
		if (!podcache_parse_event((const char *)data + 1, size - 1, &ev, err, sizeof(err)))
			podcache_apply_event(s, t, &ev);
		podcache_event_clear(&ev);
	} else {
		if (!podcache_parse_list((const char *)data + 1, size - 1, &pods, &n, rv, &cont,
					 err, sizeof(err)))
			podcache_apply_list(s, t, pods, n);
		for (size_t i = 0; i < n; i++)
			pod_info_free(pods[i]);
		free(pods);
		free(cont);
	}
	return 0;
}
