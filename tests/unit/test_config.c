/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/fs.h"
#include "common/json.h"
#include "server/config.h"

static void load(srv_config_t *cfg, const char *text)
{
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(srv_config_init_defaults(cfg, &err), 0);
	if (srv_config_load_string(cfg, text, strlen(text), "c.conf", &err) < 0)
		fail_msg("%s", crl_error_message(&err));
}

static void load_err(const char *text, const char *want)
{
	srv_config_t cfg;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(srv_config_init_defaults(&cfg, &err), 0);
	int r = srv_config_load_string(&cfg, text, strlen(text), "c.conf", &err);
	if (r >= 0)
		r = srv_config_validate(&cfg, &err);
	assert_true(r < 0);
	if (!strstr(crl_error_message(&err), want))
		fail_msg("error '%s' lacks '%s'", crl_error_message(&err), want);
	crl_error_clear(&err);
	srv_config_free(&cfg);
}

static void test_defaults(void **state)
{
	(void)state;
	srv_config_t cfg;
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(srv_config_init_defaults(&cfg, &err), 0);
	assert_string_equal(cfg.root, "/var/lib/crio-lite");
	assert_string_equal(cfg.runroot, "/run/crio-lite");
	assert_string_equal(cfg.listen, "unix:///run/crio-lite/crio-lite.sock");
	assert_int_equal(cfg.grpc_max_recv_msg_size, 16 * 1024 * 1024);
	assert_int_equal(cfg.grpc_max_send_msg_size, 16 * 1024 * 1024);
	assert_string_equal(cfg.registries_conf, "/etc/containers/registries.conf");
	assert_string_equal(cfg.plugin_dirs[1], "/usr/lib/cni");
	assert_null(cfg.plugin_dirs[2]);
	assert_int_equal(srv_config_validate(&cfg, &err), 0);
	char *sock = NULL;
	assert_int_equal(srv_config_socket_path(&cfg, &sock, &err), 0);
	assert_string_equal(sock, "/run/crio-lite/crio-lite.sock");
	free(sock);
	srv_config_free(&cfg);
}

static void test_file_then_flags(void **state)
{
	(void)state;
	srv_config_t cfg;
	load(&cfg, "[crio-lite]\nroot = \"/data/crl\"\nrunroot = \"/run/x\"\n"
		   "[crio-lite.api]\nlisten = \"/run/x/x.sock\"\ngrpc_max_recv_msg_size = 4096\n"
		   "[crio-lite.network]\nplugin_dirs = [\"/a\", \"/b\", \"/c\"]\n");
	assert_string_equal(cfg.root, "/data/crl");
	assert_int_equal(cfg.grpc_max_recv_msg_size, 4096);
	assert_string_equal(cfg.plugin_dirs[2], "/c");
	/* Untouched keys keep their defaults. */
	assert_string_equal(cfg.log_dir, "/var/log/crio-lite/pods");
	srv_config_flags_t f = { .listen = "unix:/tmp/f.sock", .root = "/flag/root", .log_level = "debug" };
	crl_error_t err = CRL_ERROR_INIT;
	assert_int_equal(srv_config_apply_flags(&cfg, &f, &err), 0);
	assert_string_equal(cfg.root, "/flag/root");
	assert_string_equal(cfg.runroot, "/run/x");
	assert_string_equal(cfg.log_level, "debug");
	char *sock = NULL;
	assert_int_equal(srv_config_socket_path(&cfg, &sock, &err), 0);
	assert_string_equal(sock, "/tmp/f.sock");
	free(sock);
	assert_int_equal(srv_config_validate(&cfg, &err), 0);
	srv_config_free(&cfg);
}

static void test_rejects(void **state)
{
	(void)state;
	load_err("[crio-lite]\nnope = 1\n", "c.conf:2: unknown key 'crio-lite.nope'");
	load_err("[crio-lite.api]\n\nlisten = 5\n", "c.conf:3: crio-lite.api.listen must be a string, not a integer");
	load_err("[crio-lite.api]\ngrpc_max_send_msg_size = \"big\"\n", "c.conf:2: crio-lite.api.grpc_max_send_msg_size must be an integer");
	load_err("[crio-lite.network]\nplugin_dirs = \"/x\"\n", "must be an array of strings");
	load_err("[crio-lite.network]\nplugin_dirs = [\"/x\", 3]\n", "item 2 is a integer");
	load_err("[crio-lite.storage]\n", "unknown key 'crio-lite.storage'");
	load_err("[crio]\nroot = \"/x\"\n", "c.conf:1: unknown key 'crio'");
	load_err("crio-lite = 3\n", "crio-lite must be a table");
	load_err("[crio-lite]\napi = \"x\"\n", "crio-lite.api must be a table");
	load_err("[crio-lite]\nroot = \"relative\"\n", "root must be an absolute path");
	load_err("[crio-lite.runtime]\nlog_level = \"loud\"\n", "unknown level 'loud'");
	load_err("[crio-lite.runtime]\ncgroup_manager = \"systemd\"\n", "'systemd' is not supported");
	load_err("[crio-lite.api]\nlisten = \"tcp://0.0.0.0:1\"\n", "only unix sockets");
	load_err("[crio-lite.api]\nstream_port = \"http\"\n", "stream_port must be a port number");
	load_err("[crio-lite.api]\nstream_idle_timeout = \"soon\"\n", "stream_idle_timeout: 'soon' is not a duration");
	load_err("[crio-lite.metrics]\nenable_metrics = \"yes\"\n", "enable_metrics must be true or false");
	load_err("[crio-lite.metrics]\nmetrics_port = 70000\n", "metrics_port must be a port number");
	load_err("[crio-lite.api]\ngrpc_max_recv_msg_size = 10\n", "grpc_max_recv_msg_size must be between");
	load_err("[crio-lite\n", "c.conf:1:");
}

/* The shipped crio-lite.conf is exactly what `crio-lite config` prints for the defaults, so every key is there
 * and commented, and the file parses back to the defaults. */
static void test_shipped_config_matches_defaults(void **state)
{
	(void)state;
	const char *shipped = getenv("CRIO_LITE_SHIPPED_CONF");
	assert_non_null(shipped);
	char *text = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	if (crl_fs_read_file(-100 /* AT_FDCWD */, shipped, 1 << 20, &text, NULL, &err) < 0)
		fail_msg("%s", crl_error_message(&err));
	srv_config_t def;
	assert_int_equal(srv_config_init_defaults(&def, &err), 0);
	char *printed = NULL;
	assert_int_equal(srv_config_to_toml(&def, &printed, &err), 0);
	assert_string_equal(text, printed);
	srv_config_t back;
	load(&back, text);
	char *printed2 = NULL;
	assert_int_equal(srv_config_to_toml(&back, &printed2, &err), 0);
	assert_string_equal(printed, printed2);
	/* Every key line has a comment line above it. */
	size_t keys = 0;
	for (char *line = strtok(text, "\n"), *prev = NULL; line; prev = line, line = strtok(NULL, "\n"))
		if (strstr(line, " = ")) {
			keys++;
			assert_non_null(prev);
			assert_true(prev[0] == '#');
		}
	assert_int_equal(keys, 21);
	free(printed2);
	free(printed);
	free(text);
	srv_config_free(&def);
	srv_config_free(&back);
}

static void test_printing_escapes_and_json(void **state)
{
	(void)state;
	srv_config_t cfg;
	load(&cfg, "[crio-lite]\nroot = \"/we\\\"ird\\\\path\\n\"\n");
	crl_error_t err = CRL_ERROR_INIT;
	char *t = NULL;
	assert_int_equal(srv_config_to_toml(&cfg, &t, &err), 0);
	srv_config_t back;
	load(&back, t);
	assert_string_equal(back.root, "/we\"ird\\path\n");
	char *j = NULL;
	assert_int_equal(srv_config_to_json(&cfg, false, &j, &err), 0);
	crl_json_value_t *doc = NULL;
	assert_int_equal(crl_json_parse(j, &doc, &err), 0);
	assert_string_equal(crl_json_get_string(crl_json_get(crl_json_get(doc, "crio-lite"), "root")), "/we\"ird\\path\n");
	assert_int_equal(crl_json_array_len(crl_json_get(crl_json_get(crl_json_get(doc, "crio-lite"), "network"), "plugin_dirs")), 2);
	crl_json_value_free(doc);
	free(j);
	free(t);
	srv_config_free(&cfg);
	srv_config_free(&back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_file_then_flags),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_shipped_config_matches_defaults),
		cmocka_unit_test(test_printing_escapes_and_json),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
