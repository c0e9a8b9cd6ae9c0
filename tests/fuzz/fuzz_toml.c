/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target for the TOML parser and the config loader on top of it. Built for libFuzzer with
 * -Dfuzzing=true (clang), and always with driver.c, which replays the corpus and mutations of it in CI. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/toml.h"
#include "server/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 20)
		return 0;
	crl_toml_value_t *v = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	if (crl_toml_parse((const char *)data, size, "fuzz", &v, &err) == 0)
		crl_toml_free(v);
	crl_error_clear(&err);

	srv_config_t cfg;
	if (srv_config_init_defaults(&cfg, &err) == 0) {
		if (srv_config_load_string(&cfg, (const char *)data, size, "fuzz", &err) == 0)
			(void)srv_config_validate(&cfg, &err);
		srv_config_free(&cfg);
	}
	crl_error_clear(&err);
	return 0;
}
