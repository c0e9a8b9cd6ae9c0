/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/container_spec.h"

static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
			     "broken line\n"
			     "web:x:1000:1001::/home/web:/bin/sh\n"
			     "nobody:x:65534:65534:nobody:/:/bin/false";

static void test_passwd(void **state)
{
	(void)state;
	uid_t uid = 7;
	gid_t gid = 7;
	char *name = NULL;
	assert_int_equal(srv_passwd_lookup(passwd, "web", 0, &uid, &gid, &name), 0);
	assert_int_equal(uid, 1000);
	assert_int_equal(gid, 1001);
	assert_string_equal(name, "web");
	free(name);
	assert_int_equal(srv_passwd_lookup(passwd, NULL, 65534, &uid, &gid, &name), 0);
	assert_string_equal(name, "nobody");
	free(name);
	assert_int_equal(srv_passwd_lookup(passwd, "absent", 0, &uid, &gid, NULL), -ENOENT);
	assert_int_equal(srv_passwd_lookup(NULL, NULL, 0, &uid, &gid, NULL), -ENOENT);
	unsigned long id = 0;
	assert_true(srv_parse_id("42", &id) && id == 42);
	assert_false(srv_parse_id("4x2", &id));
	assert_false(srv_parse_id("", &id));
	assert_false(srv_parse_id("4294967295", &id));
}

/* Groups by name and by member, a member list longer than any fixed line buffer included. */
static void test_groups(void **state)
{
	(void)state;
	size_t many = 12000;
	char *group = malloc(many * 8 + 256);
	size_t o = (size_t)sprintf(group, "root:x:0:\nbig:x:2000:");
	for (size_t i = 0; i < many; i++)
		o += (size_t)sprintf(group + o, "u%zu,", i);
	o += (size_t)sprintf(group + o, "web\nwheel:x:10:admin,web\n");
	assert_true(o > 70000);
	gid_t g = 0;
	assert_int_equal(srv_group_lookup(group, "wheel", &g), 0);
	assert_int_equal(g, 10);
	assert_int_equal(srv_group_lookup(group, "nope", &g), -ENOENT);
	gid_t gs[8];
	assert_int_equal(srv_group_members(group, "web", gs, 8), 2);
	assert_int_equal(gs[0], 2000);
	assert_int_equal(gs[1], 10);
	assert_int_equal(srv_group_members(group, "web", gs, 1), 1);
	assert_int_equal(srv_group_members(group, "admin", gs, 8), 1);
	free(group);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_passwd),
		cmocka_unit_test(test_groups),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
