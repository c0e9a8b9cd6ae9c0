/* SPDX-License-Identifier: Apache-2.0 */
#include "api.pb-c.h"
#include "handlers.h"

/* The version of the kubelet runtime API this daemon speaks (kubelet compares it with its own "0.1.0"). */
#define KUBELET_API_VERSION "0.1.0"

int srv_version(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err)
{
	(void)d;
	(void)call;
	(void)req;
	(void)err;
	Runtime__V1__VersionResponse *r = resp;
	r->version = (char *)KUBELET_API_VERSION;
	r->runtime_name = (char *)"crio-lite";
	r->runtime_version = (char *)CRL_VERSION;
	r->runtime_api_version = (char *)"v1";
	return 0;
}
