/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api.pb-c.h"
#include "common/cleanup.h"
#include "daemon.h"
#include "handlers.h"
#include "state.h"

/* kubelet sends dual-stack pod CIDRs joined by commas. */
#define POD_CIDR_MAX_LEN 256

int srv_runtime_config(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	(void)req;
	Runtime__V1__RuntimeConfigResponse *r = resp;
	Runtime__V1__LinuxRuntimeConfiguration *linux_cfg = srv_call_alloc(call, sizeof(*linux_cfg));
	if (!linux_cfg)
		return crl_error_set(err, ENOMEM, "out of memory");
	runtime__v1__linux_runtime_configuration__init(linux_cfg);
	/* srv_config_validate admits only cgroupfs. */
	linux_cfg->cgroup_driver = strcmp(d->cfg.cgroup_manager, "systemd") == 0 ? RUNTIME__V1__CGROUP_DRIVER__SYSTEMD
										  : RUNTIME__V1__CGROUP_DRIVER__CGROUPFS;
	r->linux = linux_cfg;
	return 0;
}

static bool valid_cidr(const char *s)
{
	const char *slash = strchr(s, '/');
	if (!slash || slash == s || slash - s > 45)
		return false;
	char addr[46];
	memcpy(addr, s, (size_t)(slash - s));
	addr[slash - s] = '\0';
	unsigned char buf[16];
	int max;
	if (inet_pton(AF_INET, addr, buf) == 1)
		max = 32;
	else if (inet_pton(AF_INET6, addr, buf) == 1)
		max = 128;
	else
		return false;
	const char *p = slash + 1;
	if (!*p || strlen(p) > 3)
		return false;
	int bits = 0;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		bits = bits * 10 + (*p - '0');
	}
	return bits <= max;
}

int srv_update_runtime_config(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	(void)call;
	(void)resp;
	const Runtime__V1__UpdateRuntimeConfigRequest *r = req;
	const char *cidr = r->runtime_config && r->runtime_config->network_config
				   ? r->runtime_config->network_config->pod_cidr
				   : NULL;
	/* Like CRI-O: an empty CIDR changes nothing. */
	if (!cidr || !*cidr)
		return 0;
	if (strlen(cidr) > POD_CIDR_MAX_LEN)
		return crl_error_set(err, EINVAL, "runtime_config.network_config.pod_cidr is longer than %d bytes",
				     POD_CIDR_MAX_LEN);
	_cleanup_free_ char *copy = strdup(cidr);
	if (!copy)
		return crl_error_set(err, ENOMEM, "out of memory");
	char *save = NULL;
	int parts = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save), parts++)
		if (!valid_cidr(tok))
			return crl_error_set(err, EINVAL,
					     "runtime_config.network_config.pod_cidr: '%s' is not a CIDR (address/prefix)",
					     tok);
	if (parts == 0 || cidr[strlen(cidr) - 1] == ',' || cidr[0] == ',')
		return crl_error_set(err, EINVAL, "runtime_config.network_config.pod_cidr: malformed list '%s'", cidr);

	pthread_mutex_lock(&d->lock);
	int ret = 0;
	if (strcmp(d->pod_cidr, cidr) != 0) {
		ret = srv_state_save_runtime_config(d, cidr, err);
		if (ret == 0) {
			char *n = strdup(cidr);
			if (n) {
				free(d->pod_cidr);
				d->pod_cidr = n;
			} else {
				ret = crl_error_set(err, ENOMEM, "out of memory");
			}
		}
	}
	pthread_mutex_unlock(&d->lock);
	return ret;
}
