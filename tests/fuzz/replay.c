// SPDX-License-Identifier: BSD-2-Clause
/*
 * The fuzz targets without libFuzzer: link one *_fuzz.c with this file
 * (e.g. gcc with ASan+UBSan instead of -fsanitize=fuzzer) and it runs each
 * file named on the command line through the target once — the seed
 * corpus as a regression test.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* optional, as with libFuzzer */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

int main(int argc, char **argv)
{
	static unsigned char buf[1 << 20];

	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		size_t n;

		if (!f) {
			perror(argv[i]);
			return 1;
		}
		n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, n);
		printf("ok %s (%zu bytes)\n", argv[i], n);
	}
	return 0;
}
