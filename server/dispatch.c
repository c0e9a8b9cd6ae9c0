/* SPDX-License-Identifier: Apache-2.0 */
/* The dispatch table: every method of the two CRI services, and the handler of each one implemented. */
#include <string.h>

#include "api.pb-c.h"
#include "common/cleanup.h"
#include "grpc.h"
#include "handlers.h"

#define RT "runtime.v1.RuntimeService"
#define IMG "runtime.v1.ImageService"
#define P SRV_LANE_POLLER
#define Q SRV_LANE_QUICK
#define L SRV_LANE_LONG

static const srv_method_t methods[] = {
	{ RT, "Version", srv_version, NULL, P },
	{ RT, "RunPodSandbox", srv_run_pod_sandbox, NULL, L },
	{ RT, "StopPodSandbox", srv_stop_pod_sandbox, NULL, L },
	{ RT, "RemovePodSandbox", srv_remove_pod_sandbox, NULL, L },
	{ RT, "PodSandboxStatus", srv_pod_sandbox_status, NULL, P },
	{ RT, "ListPodSandbox", srv_list_pod_sandbox, NULL, P },
	{ RT, "StreamPodSandboxes", NULL, srv_stream_pod_sandboxes, P },
	{ RT, "CreateContainer", srv_create_container, NULL, L },
	{ RT, "StartContainer", srv_start_container, NULL, L },
	{ RT, "StopContainer", srv_stop_container, NULL, L },
	{ RT, "RemoveContainer", srv_remove_container, NULL, L },
	{ RT, "ListContainers", srv_list_containers, NULL, Q },
	{ RT, "StreamContainers", NULL, srv_stream_containers, Q },
	{ RT, "ContainerStatus", srv_container_status, NULL, Q },
	{ RT, "UpdateContainerResources", srv_update_container_resources, NULL, L },
	{ RT, "ReopenContainerLog", srv_reopen_container_log, NULL, L },
	{ RT, "ExecSync", srv_exec_sync, NULL, L },
	{ RT, "Exec", srv_exec, NULL, Q },
	{ RT, "Attach", srv_attach, NULL, Q },
	{ RT, "PortForward", srv_port_forward, NULL, Q },
	{ RT, "ContainerStats", srv_container_stats, NULL, Q },
	{ RT, "ListContainerStats", srv_list_container_stats, NULL, Q },
	{ RT, "StreamContainerStats", NULL, srv_stream_container_stats, Q },
	{ RT, "PodSandboxStats", srv_pod_sandbox_stats, NULL, Q },
	{ RT, "ListPodSandboxStats", srv_list_pod_sandbox_stats, NULL, Q },
	{ RT, "StreamPodSandboxStats", NULL, srv_stream_pod_sandbox_stats, Q },
	{ RT, "UpdateRuntimeConfig", srv_update_runtime_config, NULL, Q },
	{ RT, "Status", srv_status, NULL, Q },
	{ RT, "CheckpointContainer", NULL, NULL, L },
	{ RT, "CheckpointPod", NULL, NULL, L },
	{ RT, "RestorePod", NULL, NULL, L },
	{ RT, "GetContainerEvents", NULL, srv_get_container_events, P },
	{ RT, "ListMetricDescriptors", srv_list_metric_descriptors, NULL, P },
	{ RT, "ListPodSandboxMetrics", srv_list_pod_sandbox_metrics, NULL, Q },
	{ RT, "StreamPodSandboxMetrics", NULL, srv_stream_pod_sandbox_metrics, Q },
	{ RT, "RuntimeConfig", srv_runtime_config, NULL, P },
	{ RT, "UpdatePodSandboxResources", srv_update_pod_sandbox_resources, NULL, L },
	{ IMG, "ListImages", srv_list_images, NULL, Q },
	{ IMG, "StreamImages", NULL, NULL, P },
	{ IMG, "ImageStatus", srv_image_status, NULL, Q },
	{ IMG, "PullImage", srv_pull_image, NULL, L },
	{ IMG, "RemoveImage", srv_remove_image, NULL, L },
	{ IMG, "ImageFsInfo", srv_image_fs_info, NULL, L },
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

