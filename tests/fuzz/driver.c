/* SPDX-License-Identifier: Apache-2.0 */
/* Runs a fuzz target without libFuzzer: every file of the corpus directories given, then a bounded number of
 * deterministic mutations of them (byte flips, inserts of TOML punctuation, truncations, splices). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct input {
	uint8_t *data;
	size_t len;
} input_t;

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int load_dir(const char *dir, input_t **inputs, size_t *n)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		FILE *f = fopen(path, "rbe");
		if (!f)
			continue;
		uint8_t *buf = malloc(1 << 16);
		size_t len = fread(buf, 1, 1 << 16, f);
		fclose(f);
		*inputs = realloc(*inputs, (*n + 1) * sizeof(**inputs));
		(*inputs)[(*n)++] = (input_t){ buf, len };
	}
	closedir(d);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s ITERATIONS CORPUS_DIR...\n", argv[0]);
		return 2;
	}
	long iterations = atol(argv[1]);
	input_t *inputs = NULL;
	size_t n = 0;
	for (int i = 2; i < argc; i++)
		if (load_dir(argv[i], &inputs, &n) < 0) {
			fprintf(stderr, "cannot read corpus %s\n", argv[i]);
			return 2;
		}
	if (n == 0) {
		fprintf(stderr, "empty corpus\n");
		return 2;
	}
	for (size_t i = 0; i < n; i++)
		LLVMFuzzerTestOneInput(inputs[i].data, inputs[i].len);
	static const char punct[] = "[]{}=\"'.,#\n\\ \t0123456789_-+:eE\r\x00\xff";
	uint8_t *buf = malloc(1 << 17);
	for (long it = 0; it < iterations; it++) {
		input_t *a = &inputs[next() % n];
		size_t len = a->len;
		memcpy(buf, a->data, len);
		int muts = 1 + (int)(next() % 8);
		for (int m = 0; m < muts; m++) {
			uint64_t r = next();
			size_t pos = len ? (size_t)(next() % len) : 0;
			switch (r % 5) {
			case 0:
				if (len)
					buf[pos] ^= (uint8_t)(1u << (next() % 8));
				break;
			case 1:
				if (len < (1 << 16)) {
					memmove(buf + pos + 1, buf + pos, len - pos);
					buf[pos] = (uint8_t)punct[next() % (sizeof(punct) - 1)];
					len++;
				}
				break;
			case 2:
				len = pos;
				break;
			case 3: {
				input_t *b = &inputs[next() % n];
				size_t take = b->len ? (size_t)(next() % b->len) : 0;
				if (pos + take < (1 << 17)) {
					memcpy(buf + pos, b->data, take);
					if (pos + take > len)
						len = pos + take;
				}
				break;
			}
			default:
				if (len)
					buf[pos] = (uint8_t)punct[next() % (sizeof(punct) - 1)];
				break;
			}
		}
		LLVMFuzzerTestOneInput(buf, len);
	}
	printf("fuzz driver: %zu corpus inputs, %ld mutations, no crash\n", n, iterations);
	free(buf);
	for (size_t i = 0; i < n; i++)
		free(inputs[i].data);
	free(inputs);
	return 0;
}
