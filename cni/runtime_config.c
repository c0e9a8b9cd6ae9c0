/* SPDX-License-Identifier: Apache-2.0 */
#include "runtime_config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cleanup.h"

/* kubelet's bounds for a bandwidth annotation (pkg/util/bandwidth): 1k and 1P. */
#define BW_MIN 1000ULL
#define BW_MAX 1000000000000000ULL
/* Longer quantities are not something kubelet would be given; the bound keeps the digit counts small. */
#define QUANTITY_MAX_LEN 64
/* CRI-O and kubelet send no burst limit as math.MaxInt32 bits. */
#define BW_BURST 2147483647

static const struct {
	const char *suffix;
	int dec; /* power of ten */
	int bin; /* power of two */
} suffixes[] = {
	{ "", 0, 0 },    { "n", -9, 0 },  { "u", -6, 0 },  { "m", -3, 0 },  { "k", 3, 0 },   { "M", 6, 0 },
	{ "G", 9, 0 },   { "T", 12, 0 },  { "P", 15, 0 },  { "E", 18, 0 },  { "Ki", 0, 10 }, { "Mi", 0, 20 },
	{ "Gi", 0, 30 }, { "Ti", 0, 40 }, { "Pi", 0, 50 }, { "Ei", 0, 60 },
};

static bool parse_suffix(const char *s, int *dec, int *bin)
{
	for (size_t i = 0; i < CRL_ARRAY_SIZE(suffixes); i++)
		if (strcmp(s, suffixes[i].suffix) == 0) {
			*dec = suffixes[i].dec;
			*bin = suffixes[i].bin;
			return true;
		}
	/* "1e3", "1E-2": a decimal exponent ("E" alone is exa, matched above). */
	if ((s[0] != 'e' && s[0] != 'E') || !s[1])
		return false;
	const char *p = s + 1;
	bool neg = *p == '-';
	if (*p == '+' || *p == '-')
		p++;
	int e = 0, n = 0;
	for (; *p >= '0' && *p <= '9' && n < 4; p++, n++)
		e = e * 10 + (*p - '0');
	if (n == 0 || *p)
		return false;
	*dec = neg ? -e : e;
	*bin = 0;
	return true;
}

int cni_bandwidth_parse(const char *quantity, uint64_t *ret_bits, crl_error_t *err)
{
	const char *q = quantity ? quantity : "";
	if (strlen(q) > QUANTITY_MAX_LEN)
		return crl_error_set(err, EINVAL, "bandwidth quantity longer than %d characters", QUANTITY_MAX_LEN);
	const char *p = q;
	bool neg = *p == '-';
	if (*p == '+' || *p == '-')
		p++;
	uint64_t mant = 0;
	int frac = 0, sig = 0;
	bool dot = false, digits = false;
	for (;; p++) {
		if (*p >= '0' && *p <= '9') {
			digits = true;
			frac += dot;
			if (mant == 0 && *p == '0')
				continue;
			/* 19 significant digits stay below 2^64, and shifted by 2^60 below 2^128. */
			if (++sig > 19)
				return crl_error_set(err, EINVAL, "bandwidth '%s': too many digits", q);
			mant = mant * 10 + (uint64_t)(*p - '0');
		} else if (*p == '.' && !dot) {
			dot = true;
		} else {
			break;
		}
	}
	int dec = 0, bin = 0;
	if (!digits || !parse_suffix(p, &dec, &bin))
		return crl_error_set(err, EINVAL, "bandwidth '%s' is not a quantity (like 10M, 1Gi, 500k)", q);

	unsigned __int128 v = (unsigned __int128)mant << bin;
	int e = dec - frac;
	if (e >= 0) {
		for (int i = 0; i < e && v <= BW_MAX; i++)
			v *= 10;
	} else {
		/* Rounded up, as resource.Quantity.Value() does; once the divisor passes v the quotient stays 1. */
		unsigned __int128 d = 1;
		for (int i = 0; i < -e && d <= v; i++)
			d *= 10;
		v = (v + d - 1) / d;
	}
	if (neg || v < BW_MIN)
		return crl_error_set(err, EINVAL, "bandwidth '%s': resource is unreasonably small (< 1kbit)", q);
	if (v > BW_MAX)
		return crl_error_set(err, EINVAL, "bandwidth '%s': resource is unreasonably large (> 1Pbit)", q);
	*ret_bits = (uint64_t)v;
	return 0;
}

static bool strv_empty(char *const *v)
{
	return !v || !v[0];
}

static void write_strv(crl_json_t *j, const char *key, char *const *v)
{
	if (strv_empty(v))
		return;
	crl_json_key(j, key);
	crl_json_array_begin(j);
	for (; *v; v++)
		crl_json_string(j, *v);
	crl_json_array_end(j);
}

static int write_ports(crl_json_t *j, const cni_pod_t *pod, crl_error_t *err)
{
	static const char *const protocols[] = { "tcp", "udp", "sctp" };
	bool open = false;
	for (size_t i = 0; i < pod->n_ports; i++) {
		const cni_port_mapping_t *m = &pod->ports[i];
		/* As kubelet's hostport code and CRI-O do: a port without a host side maps nothing. */
		if (m->host_port <= 0)
			continue;
		const char *proto = NULL;
		for (size_t k = 0; k < CRL_ARRAY_SIZE(protocols); k++)
			if (strcasecmp(m->protocol ? m->protocol : "tcp", protocols[k]) == 0)
				proto = protocols[k];
		if (m->host_port > 65535 || m->container_port <= 0 || m->container_port > 65535)
			return crl_error_set(err, EINVAL, "port mapping %d -> %d: port out of range", m->host_port,
					     m->container_port);
		if (!proto)
			return crl_error_set(err, EINVAL, "port mapping %d -> %d: unknown protocol '%s'", m->host_port,
					     m->container_port, m->protocol);
		if (!open) {
			crl_json_key(j, "portMappings");
			crl_json_array_begin(j);
			open = true;
		}
		crl_json_object_begin(j);
		crl_json_kv_int(j, "hostPort", m->host_port);
		crl_json_kv_int(j, "containerPort", m->container_port);
		crl_json_kv_string(j, "protocol", proto);
		if (m->host_ip && *m->host_ip)
			crl_json_kv_string(j, "hostIP", m->host_ip);
		crl_json_object_end(j);
	}
	if (open)
		crl_json_array_end(j);
	return 0;
}

static int write_bandwidth(crl_json_t *j, const cni_pod_t *pod, crl_error_t *err)
{
	uint64_t in = 0, out = 0;
	if (pod->ingress_bandwidth && cni_bandwidth_parse(pod->ingress_bandwidth, &in, err) < 0)
		return crl_error_wrap(err, "kubernetes.io/ingress-bandwidth");
	if (pod->egress_bandwidth && cni_bandwidth_parse(pod->egress_bandwidth, &out, err) < 0)
		return crl_error_wrap(err, "kubernetes.io/egress-bandwidth");
	if (!pod->ingress_bandwidth && !pod->egress_bandwidth)
		return 0;
	crl_json_key(j, "bandwidth");
	crl_json_object_begin(j);
	if (pod->ingress_bandwidth) {
		crl_json_kv_int(j, "ingressRate", (int64_t)in);
		crl_json_kv_int(j, "ingressBurst", BW_BURST);
	}
	if (pod->egress_bandwidth) {
		crl_json_kv_int(j, "egressRate", (int64_t)out);
		crl_json_kv_int(j, "egressBurst", BW_BURST);
	}
	crl_json_object_end(j);
	return 0;
}

int cni_runtime_config_build(const cni_pod_t *pod, char **ret, crl_error_t *err)
{
	crl_json_t *j = crl_json_new(false);
	crl_json_object_begin(j);
	int r = write_ports(j, pod, err);
	if (r >= 0)
		r = write_bandwidth(j, pod, err);
	if (r < 0) {
		crl_json_free(j);
		return r;
	}
	if (!strv_empty(pod->dns_servers) || !strv_empty(pod->dns_searches) || !strv_empty(pod->dns_options)) {
		crl_json_key(j, "dns");
		crl_json_object_begin(j);
		write_strv(j, "servers", pod->dns_servers);
		write_strv(j, "searches", pod->dns_searches);
		write_strv(j, "options", pod->dns_options);
		crl_json_object_end(j);
	}
	crl_json_object_end(j);
	return crl_json_finish(j, ret, NULL, err);
}

bool cni_runtime_config_write(crl_json_t *j, const crl_json_value_t *plugin, const crl_json_value_t *rc)
{
	const crl_json_value_t *caps = crl_json_get(plugin, "capabilities");
	bool any = false;
	for (size_t i = 0; i < crl_json_object_len(rc); i++) {
		const char *key = crl_json_object_key(rc, i);
		bool on = false;
		if (!crl_json_get_bool(crl_json_get(caps, key), &on) || !on)
			continue;
		if (!any) {
			crl_json_key(j, "runtimeConfig");
			crl_json_object_begin(j);
			any = true;
		}
		crl_json_key(j, key);
		crl_json_value(j, crl_json_object_value(rc, i));
	}
	if (any)
		crl_json_object_end(j);
	return any;
}
