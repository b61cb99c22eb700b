// SPDX-License-Identifier: BSD-2-Clause
/*
 * Fuzz target for userspace/store.c's readers of what is on disk: a
 * database is evidence that someone may have edited, so the seal value
 * (JSON + base64), the seal text and the record header must refuse
 * anything odd without reading past what they were given.
 *
 * Input: one control byte, then the bytes "stored".
 *   control % 3 == 0: a seal's value, then its text if it parses;
 *   control % 3 == 1: a seal's text alone;
 *   control % 3 == 2: a record: the first 24 bytes are its key (shorter
 *     inputs are a short key), the rest its value, decoded as a chunk and
 *     as an event.
 * The static parsers are reached by including store.c itself.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *	-Iuserspace -Iuserspace/lib tests/fuzz/store_fuzz.c \
 *	userspace/lib/log.c -ljansson -lrocksdb -lssl -lcrypto -lpthread \
 *	-o build/store_fuzz && build/store_fuzz tests/fuzz/corpus/store
 *
 * Linked with tests/fuzz/replay.c instead of -fsanitize=fuzzer, it runs
 * each file named on the command line once: the seed corpus as a
 * regression test.
 */
#include "store.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t sig[SEAL_SIG_LEN];
	struct store_read_rec r;
	const char *text;
	json_t *root = NULL;
	struct seal sl;
	size_t tl, kl;
	char *copy;

	if (!size)
		return 0;
	/* an exact-size heap copy, so ASan sees any read past the end */
	copy = malloc(size - 1 ? size - 1 : 1);
	if (!copy)
		return 0;
	memcpy(copy, data + 1, size - 1);
	switch (data[0] % 3) {
	case 0:
		if (!seal_value_parse(copy, size - 1, &root, &text, &tl, sig))
			seal_text_parse(text, tl, &sl);
		json_decref(root);
		break;
	case 1:
		seal_text_parse(copy, size - 1, &sl);
		break;
	case 2:
		kl = size - 1 < REC_KEY_LEN ? size - 1 : REC_KEY_LEN;
		if (!rec_decode(CF_CHUNKS, (uint8_t *)copy, kl,
				(uint8_t *)copy + kl, size - 1 - kl, &r) &&
		    r.len)
			/* everything decoded lies inside the value */
			if (r.payload + r.len != (uint8_t *)copy + size - 1)
				abort();
		rec_decode(CF_EVENTS, (uint8_t *)copy, kl, (uint8_t *)copy + kl,
			   size - 1 - kl, &r);
		break;
	}
	free(copy);
	return 0;
}
