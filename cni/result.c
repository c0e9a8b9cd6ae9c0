/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/json.h"
#include "exec.h"

void cni_result_free(cni_result_t *r)
{
	if (!r)
		return;
	crl_strv_free(r->ips);
	free(r->json);
	free(r);
}

typedef struct ip_list {
	char **v;
	size_t n;
} ip_list_t;

/* "10.1.0.5/24" (or a bare address) kept as "10.1.0.5". */
static int add_ip(ip_list_t *l, const crl_json_value_t *addr, const char *what, crl_error_t *err)
{
	const char *s = crl_json_get_string(addr);
	if (!s)
		return crl_error_set(err, EINVAL, "CNI result: %s is not a string", what);
	size_t len = strcspn(s, "/");
	unsigned char bin[16];
	_cleanup_free_ char *ip = strndup(s, len);
	if (!ip)
		return crl_error_set(err, ENOMEM, "out of memory");
	if (inet_pton(AF_INET, ip, bin) != 1 && inet_pton(AF_INET6, ip, bin) != 1)
		return crl_error_set(err, EINVAL, "CNI result: %s '%.64s' is not an IP address", what, s);
	char **nv = realloc(l->v, (l->n + 2) * sizeof(char *));
	if (!nv)
		return crl_error_set(err, ENOMEM, "out of memory");
	l->v = nv;
	l->v[l->n++] = TAKE_PTR(ip);
	l->v[l->n] = NULL;
	return 0;
}

/* An address of the pod: no interface index, or one naming an interface inside a sandbox (the host's end of a
 * veth has none). */
static int in_pod(const crl_json_value_t *ip, const crl_json_value_t *ifaces, bool *ret, crl_error_t *err)
{
	const crl_json_value_t *idx = crl_json_get(ip, "interface");
	int64_t i = 0;
	*ret = true;
	if (!idx || !ifaces)
		return 0;
	if (!crl_json_get_int(idx, &i))
		return crl_error_set(err, EINVAL, "CNI result: an ips entry's \"interface\" is not an integer");
	const char *sandbox = NULL;
	if (i >= 0 && (uint64_t)i < crl_json_array_len(ifaces))
		sandbox = crl_json_get_string(crl_json_get(crl_json_array_at(ifaces, (size_t)i), "sandbox"));
	*ret = sandbox && *sandbox;
	return 0;
}

static int parse_ips(const crl_json_value_t *doc, ip_list_t *l, crl_error_t *err)
{
	const crl_json_value_t *ips = crl_json_get(doc, "ips");
	const crl_json_value_t *ifaces = crl_json_get(doc, "interfaces");
	if (!crl_json_is_array(ips))
		return crl_error_set(err, EINVAL, "CNI result: \"ips\" is not an array");
	if (ifaces && !crl_json_is_array(ifaces))
		return crl_error_set(err, EINVAL, "CNI result: \"interfaces\" is not an array");
	for (size_t i = 0; i < crl_json_array_len(ips); i++) {
		const crl_json_value_t *ip = crl_json_array_at(ips, i);
		bool keep = false;
		if (!crl_json_is_object(ip))
			return crl_error_set(err, EINVAL, "CNI result: an ips entry is not an object");
		int r = in_pod(ip, ifaces, &keep, err);
		if (r < 0)
			return r;
		if (keep && (r = add_ip(l, crl_json_get(ip, "address"), "an ips entry's \"address\"", err)) < 0)
			return r;
	}
	return 0;
}

/* 0.1.0 and 0.2.0: "ip4": {"ip": ...}, "ip6": {"ip": ...}. */
static int parse_ip4_ip6(const crl_json_value_t *doc, ip_list_t *l, crl_error_t *err)
{
	static const char *const keys[] = { "ip4", "ip6" };
	for (size_t i = 0; i < CRL_ARRAY_SIZE(keys); i++) {
		const crl_json_value_t *v = crl_json_get(doc, keys[i]);
		if (!v || crl_json_is_null(v))
			continue;
		if (!crl_json_is_object(v))
			return crl_error_set(err, EINVAL, "CNI result: \"%s\" is not an object", keys[i]);
		int r = add_ip(l, crl_json_get(v, "ip"), keys[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

int cni_result_from_value(const crl_json_value_t *doc, const char *json, cni_result_t **ret, crl_error_t *err)
{
	ip_list_t l = { 0 };
	int r;
	if (!crl_json_is_object(doc))
		r = crl_error_set(err, EINVAL, "CNI result is not a JSON object");
	else if (crl_json_get(doc, "ips"))
		r = parse_ips(doc, &l, err);
	else
		r = parse_ip4_ip6(doc, &l, err);
	cni_result_t *res = NULL;
	if (r >= 0 && (!(res = calloc(1, sizeof(*res))) || !(res->json = strdup(json)) ||
		       (!l.v && !(l.v = calloc(1, sizeof(char *))))))
		r = crl_error_set(err, ENOMEM, "out of memory");
	if (r < 0) {
		crl_strv_free(l.v);
		cni_result_free(res);
		return r;
	}
	res->ips = l.v;
	*ret = res;
	return 0;
}

int cni_result_parse(const char *json, cni_result_t **ret, crl_error_t *err)
{
	if (!json)
		return crl_error_set(err, EINVAL, "CNI result: none");
	if (strlen(json) > CNI_MAX_OUTPUT)
		return crl_error_set(err, EINVAL, "CNI result larger than %d bytes", CNI_MAX_OUTPUT);
	crl_json_value_t *doc = NULL;
	int r = crl_json_parse(json, &doc, err);
	if (r < 0)
		return crl_error_wrap(err, "CNI result");
	r = cni_result_from_value(doc, json, ret, err);
	crl_json_value_free(doc);
	return r;
}
