/* SPDX-License-Identifier: Apache-2.0 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/toml.h"

static crl_toml_value_t *parse_ok(const char *text)
{
	crl_toml_value_t *v = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	int r = crl_toml_parse(text, strlen(text), "t.toml", &v, &err);
	if (r < 0)
		fail_msg("unexpected error: %s\n--- input ---\n%s", crl_error_message(&err), text);
	return v;
}

/* Fails to parse, with a message containing want. */
static void parse_err(const char *text, const char *want)
{
	crl_toml_value_t *v = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	int r = crl_toml_parse(text, strlen(text), "t.toml", &v, &err);
	if (r >= 0) {
		crl_toml_free(v);
		fail_msg("parsed but should not have:\n%s", text);
	}
	if (!strstr(crl_error_message(&err), want))
		fail_msg("error '%s' lacks '%s'", crl_error_message(&err), want);
	crl_error_clear(&err);
}

static const crl_toml_value_t *path(const crl_toml_value_t *v, const char *a, const char *b, const char *c)
{
	v = crl_toml_table_get(v, a);
	if (b)
		v = crl_toml_table_get(v, b);
	if (c)
		v = crl_toml_table_get(v, c);
	assert_non_null(v);
	return v;
}

static void test_scalars(void **state)
{
	(void)state;
	crl_toml_value_t *v = parse_ok("s = \"a\\tb\\u00e9\\U0001F600\\\"\"\n"
				       "lit = 'C:\\path'\n"
				       "i = -17\nhex = 0xDEAD_beef\noct = 0o755\nbin = 0b1010\nbig = 9_223_372_036_854_775_807\n"
				       "neg = -9223372036854775808\n"
				       "f = 6.626e-34\ng = -0.5\nin = -inf\nna = nan\n"
				       "t = true\nff = false\n"
				       "d = 1979-05-27T07:32:00Z\nd2 = 1979-05-27 07:32:00.5-07:00\nld = 1979-05-27\nlt = 07:32:00\n");
	assert_string_equal(path(v, "s", NULL, NULL)->s, "a\tb\xc3\xa9\xf0\x9f\x98\x80\"");
	assert_string_equal(path(v, "lit", NULL, NULL)->s, "C:\\path");
	assert_int_equal(path(v, "i", NULL, NULL)->i, -17);
	assert_int_equal(path(v, "hex", NULL, NULL)->i, 0xDEADBEEF);
	assert_int_equal(path(v, "oct", NULL, NULL)->i, 0755);
	assert_int_equal(path(v, "bin", NULL, NULL)->i, 10);
	assert_int_equal(path(v, "big", NULL, NULL)->i, INT64_MAX);
	assert_int_equal(path(v, "neg", NULL, NULL)->i, INT64_MIN);
	assert_true(fabs(path(v, "f", NULL, NULL)->f - 6.626e-34) < 1e-40);
	assert_true(path(v, "g", NULL, NULL)->f == -0.5);
	assert_true(isinf(path(v, "in", NULL, NULL)->f) && path(v, "in", NULL, NULL)->f < 0);
	assert_true(isnan(path(v, "na", NULL, NULL)->f));
	assert_int_equal(path(v, "t", NULL, NULL)->type, CRL_TOML_BOOL);
	assert_true(path(v, "t", NULL, NULL)->b);
	assert_false(path(v, "ff", NULL, NULL)->b);
	assert_int_equal(path(v, "d", NULL, NULL)->type, CRL_TOML_DATETIME);
	assert_string_equal(path(v, "d", NULL, NULL)->s, "1979-05-27T07:32:00Z");
	assert_string_equal(path(v, "d2", NULL, NULL)->s, "1979-05-27 07:32:00.5-07:00");
	assert_string_equal(path(v, "ld", NULL, NULL)->s, "1979-05-27");
	assert_string_equal(path(v, "lt", NULL, NULL)->s, "07:32:00");
	crl_toml_free(v);
}

static void test_multiline_strings(void **state)
{
	(void)state;
	crl_toml_value_t *v = parse_ok("a = \"\"\"\nline1\nline2\"\"\"\n"
				       "b = \"\"\"one \\\n     two\"\"\"\n"
				       "c = '''\nraw \\n stays'''\n"
				       "d = \"\"\"quote\"\"\"\"\"\n"
				       "e = '''x''''\n");
	assert_string_equal(path(v, "a", NULL, NULL)->s, "line1\nline2");
	assert_string_equal(path(v, "b", NULL, NULL)->s, "one two");
	assert_string_equal(path(v, "c", NULL, NULL)->s, "raw \\n stays");
	assert_string_equal(path(v, "d", NULL, NULL)->s, "quote\"\"");
	assert_string_equal(path(v, "e", NULL, NULL)->s, "x'");
	crl_toml_free(v);
}

static void test_tables_and_dotted_keys(void **state)
{
	(void)state;
	crl_toml_value_t *v = parse_ok("# comment\n"
				       "[crio-lite]   # trailing comment\n"
				       "root = \"/r\"\n"
				       "[crio-lite.api]\n"
				       "listen = \"/s\"\n"
				       "[\"quoted key\".'lit']\n"
				       "x.y.z = 1\n"
				       "x.y.w = 2\n"
				       "[a.b.c]\n"
				       "[a]\n"
				       "k = 3\n"
				       "[fruit]\napple.color = \"red\"\n[fruit.apple.texture]\nsmooth = true\n");
	assert_string_equal(path(v, "crio-lite", "root", NULL)->s, "/r");
	assert_string_equal(path(v, "crio-lite", "api", "listen")->s, "/s");
	const crl_toml_value_t *q = path(v, "quoted key", "lit", NULL);
	assert_int_equal(path(q, "x", "y", "z")->i, 1);
	assert_int_equal(path(q, "x", "y", "w")->i, 2);
	assert_int_equal(path(v, "a", "k", NULL)->i, 3);
	assert_int_equal(path(v, "a", "b", "c")->type, CRL_TOML_TABLE);
	assert_true(path(v, "fruit", "apple", "texture")->n == 1);
	/* Lines are remembered for error messages. */
	assert_int_equal(path(v, "crio-lite", "root", NULL)->line, 3);
	assert_int_equal(path(v, "crio-lite", "api", "listen")->line, 5);
	crl_toml_free(v);
}

static void test_arrays_and_inline_tables(void **state)
{
	(void)state;
	crl_toml_value_t *v = parse_ok("a = [ 1, 2, 3, ]\n"
				       "b = [\n  \"x\", # comment\n  \"y\"\n]\n"
				       "c = [ [1, 2], [\"a\", 'b'], [] ]\n"
				       "d = { name = \"n\", pt.x = 1, pt.y = 2 }\n"
				       "e = {}\n"
				       "[[registry]]\nprefix = \"a\"\n[[registry.mirror]]\nlocation = \"m1\"\n[[registry.mirror]]\nlocation = \"m2\"\n"
				       "[[registry]]\nprefix = \"b\"\n");
	const crl_toml_value_t *a = path(v, "a", NULL, NULL);
	assert_int_equal(a->type, CRL_TOML_ARRAY);
	assert_int_equal(a->n, 3);
	assert_int_equal(a->items[2]->i, 3);
	assert_string_equal(path(v, "b", NULL, NULL)->items[1]->s, "y");
	const crl_toml_value_t *c = path(v, "c", NULL, NULL);
	assert_int_equal(c->n, 3);
	assert_int_equal(c->items[0]->n, 2);
	assert_string_equal(c->items[1]->items[1]->s, "b");
	assert_int_equal(c->items[2]->n, 0);
	assert_int_equal(path(v, "d", "pt", "y")->i, 2);
	assert_int_equal(path(v, "e", NULL, NULL)->type, CRL_TOML_TABLE);
	const crl_toml_value_t *reg = path(v, "registry", NULL, NULL);
	assert_int_equal(reg->type, CRL_TOML_ARRAY);
	assert_int_equal(reg->n, 2);
	assert_string_equal(crl_toml_table_get(reg->items[0], "prefix")->s, "a");
	const crl_toml_value_t *mir = crl_toml_table_get(reg->items[0], "mirror");
	assert_int_equal(mir->n, 2);
	assert_string_equal(crl_toml_table_get(mir->items[1], "location")->s, "m2");
	assert_string_equal(crl_toml_table_get(reg->items[1], "prefix")->s, "b");
	crl_toml_free(v);
}

static void test_errors_name_file_and_line(void **state)
{
	(void)state;
	parse_err("a = 1\nb = \n", "t.toml:2: expected a value");
	parse_err("a = 1\na = 2\n", "t.toml:2: duplicate key 'a' (first defined on line 1)");
	parse_err("[t]\n[t]\n", "t.toml:2: table 't' is defined twice");
	parse_err("a = \"unterminated\n", "t.toml:1: newline in a single-line string");
	parse_err("a = \"\"\"never\nclosed\n", "t.toml:1: unterminated string");
	parse_err("a = bare\n", "t.toml:1: unexpected 'b' where a value was expected (strings need quotes)");
	parse_err("a = 1 b = 2\n", "t.toml:1: unexpected 'b' after a value");
	parse_err("a = 01\n", "leading zeros");
	parse_err("a = 1__0\n", "misplaced underscore");
	parse_err("a = _1\n", "t.toml:1:");
	parse_err("a = 9223372036854775808\n", "does not fit in 64 bits");
	parse_err("a = +0x10\n", "sign is not allowed");
	parse_err("a = 1.\n", "malformed float");
	parse_err("a = \"\\q\"\n", "unknown escape sequence \\q");
	parse_err("a = \"\\uD800\"\n", "not a Unicode scalar value");
	parse_err("a = [1, 2\n", "unterminated array");
	parse_err("a = { x = 1, }\n", "trailing comma in an inline table");
	parse_err("a = { x = 1\n", "inline tables stay on one line");
	parse_err("a = {x = 1}\n[a]\n", "defined twice");
	parse_err("a = {x = 1}\na.y = 2\n", "cannot be extended");
	parse_err("a = 1\n[a.b]\n", "already a integer");
	parse_err("[a]\nb = 1\n[[a]]\n", "not an array of tables");
	parse_err("[fruit]\napple.color = \"red\"\n[fruit.apple]\n", "defined twice");
	parse_err("[a.b]\n[a]\nb.c = 1\n", "cannot extend it");
	parse_err("a = 1\r\n\rb = 2\n", "t.toml:2:");
	parse_err("\xff = 1\n", "t.toml:1: not valid UTF-8");
	parse_err("a = 1\nb = \"\xc3\x28\"\n", "t.toml:2: not valid UTF-8");
	parse_err("a = \"x\x01\"\n", "control character");
	parse_err("[a\n", "expected ']'");
	parse_err("= 1\n", "unexpected '='");
	parse_err("a.\"\"\"b\"\"\" = 1\n", "multi-line string");
	crl_toml_value_t *v = NULL;
	crl_error_t err = CRL_ERROR_INIT;
	assert_true(crl_toml_parse("a = 1\0b = 2", 11, "t.toml", &v, &err) < 0);
	assert_non_null(strstr(crl_error_message(&err), "NUL byte"));
	crl_error_clear(&err);
}

static void test_nesting_limit(void **state)
{
	(void)state;
	char deep[1024];
	size_t n = 0;
	n += (size_t)snprintf(deep, sizeof(deep), "a = ");
	for (int i = 0; i < 100; i++)
		deep[n++] = '[';
	deep[n] = '\0';
	parse_err(deep, "nested more than 64");
	/* 60 deep is fine. */
	n = (size_t)snprintf(deep, sizeof(deep), "a = ");
	for (int i = 0; i < 60; i++)
		deep[n++] = '[';
	for (int i = 0; i < 60; i++)
		deep[n++] = ']';
	deep[n++] = '\n';
	deep[n] = '\0';
	crl_toml_free(parse_ok(deep));
}

static void test_empty_and_bom(void **state)
{
	(void)state;
	crl_toml_value_t *v = parse_ok("");
	assert_int_equal(v->n, 0);
	crl_toml_free(v);
	v = parse_ok("\xEF\xBB\xBF" "a = 1");
	assert_int_equal(path(v, "a", NULL, NULL)->i, 1);
	crl_toml_free(v);
	v = parse_ok("\n\n# only comments\n   \t\n");
	assert_int_equal(v->n, 0);
	crl_toml_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_multiline_strings),
		cmocka_unit_test(test_tables_and_dotted_keys),
		cmocka_unit_test(test_arrays_and_inline_tables),
		cmocka_unit_test(test_errors_name_file_and_line),
		cmocka_unit_test(test_nesting_limit),
		cmocka_unit_test(test_empty_and_bom),
	};
	return cmocka_run_group_tests_name("toml", tests, NULL, NULL);
}
