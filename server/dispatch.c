/* SPDX-License-Identifier: Apache-2.0 */
/* The dispatch table: every method of the two CRI services, and the handler of each one implemented. */
#include <string.h>

#include "api.pb-c.h"
#include "common/cleanup.h"
#include "grpc.h"
#include "handlers.h"

#define RT "runtime.v1.RuntimeService"
#define IMG "runtime.v1.ImageService"

static const srv_method_t methods[] = {
	{ RT, "Version", srv_version, NULL, false },
	{ RT, "RunPodSandbox", NULL, NULL, true },
	{ RT, "StopPodSandbox", NULL, NULL, true },
	{ RT, "RemovePodSandbox", NULL, NULL, true },
	{ RT, "PodSandboxStatus", NULL, NULL, false },
	{ RT, "ListPodSandbox", NULL, NULL, false },
	{ RT, "StreamPodSandboxes", NULL, NULL, false },
	{ RT, "CreateContainer", NULL, NULL, true },
	{ RT, "StartContainer", NULL, NULL, true },
	{ RT, "StopContainer", NULL, NULL, true },
	{ RT, "RemoveContainer", NULL, NULL, true },
	{ RT, "ListContainers", NULL, NULL, false },
	{ RT, "StreamContainers", NULL, NULL, false },
	{ RT, "ContainerStatus", NULL, NULL, false },
	{ RT, "UpdateContainerResources", NULL, NULL, true },
	{ RT, "ReopenContainerLog", NULL, NULL, true },
	{ RT, "ExecSync", NULL, NULL, true },
	{ RT, "Exec", NULL, NULL, true },
	{ RT, "Attach", NULL, NULL, true },
	{ RT, "PortForward", NULL, NULL, true },
	{ RT, "ContainerStats", NULL, NULL, true },
	{ RT, "ListContainerStats", NULL, NULL, true },
	{ RT, "StreamContainerStats", NULL, NULL, false },
	{ RT, "PodSandboxStats", NULL, NULL, true },
	{ RT, "ListPodSandboxStats", NULL, NULL, true },
	{ RT, "StreamPodSandboxStats", NULL, NULL, false },
	{ RT, "UpdateRuntimeConfig", srv_update_runtime_config, NULL, true },
	{ RT, "Status", srv_status, NULL, true },
	{ RT, "CheckpointContainer", NULL, NULL, true },
	{ RT, "CheckpointPod", NULL, NULL, true },
	{ RT, "RestorePod", NULL, NULL, true },
	{ RT, "GetContainerEvents", NULL, srv_get_container_events, false },
	{ RT, "ListMetricDescriptors", NULL, NULL, false },
	{ RT, "ListPodSandboxMetrics", NULL, NULL, true },
	{ RT, "StreamPodSandboxMetrics", NULL, NULL, false },
	{ RT, "RuntimeConfig", srv_runtime_config, NULL, false },
	{ RT, "UpdatePodSandboxResources", NULL, NULL, true },
	{ IMG, "ListImages", srv_list_images, NULL, true },
	{ IMG, "StreamImages", NULL, NULL, false },
	{ IMG, "ImageStatus", srv_image_status, NULL, true },
	{ IMG, "PullImage", srv_pull_image, NULL, true },
	{ IMG, "RemoveImage", srv_remove_image, NULL, true },
	{ IMG, "ImageFsInfo", srv_image_fs_info, NULL, true },
};

const srv_method_t *srv_grpc_methods(size_t *ret_n)
{
	*ret_n = CRL_ARRAY_SIZE(methods);
	return methods;
}

const srv_method_t *srv_grpc_find_method(const char *path, size_t len)
{
	for (size_t i = 0; i < CRL_ARRAY_SIZE(methods); i++) {
		const srv_method_t *m = &methods[i];
		size_t sl = strlen(m->service), nl = strlen(m->name);
		if (len == sl + nl + 2 && path[0] == '/' && memcmp(path + 1, m->service, sl) == 0 &&
		    path[sl + 1] == '/' && memcmp(path + sl + 2, m->name, nl) == 0)
			return m;
	}
	return NULL;
}

const ProtobufCMethodDescriptor *srv_grpc_method_descriptor(const srv_method_t *m)
{
	const ProtobufCServiceDescriptor *sd = strcmp(m->service, RT) == 0 ? &runtime__v1__runtime_service__descriptor
									    : &runtime__v1__image_service__descriptor;
	for (unsigned i = 0; i < sd->n_methods; i++)
		if (strcmp(sd->methods[i].name, m->name) == 0)
			return &sd->methods[i];
	return NULL;
}

