/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "grpc.h"

/* One handler per CRI call, each in the file named after it. They never touch gRPC. */

/* version.c */
int srv_version(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
/* runtime_status.c */
int srv_status(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
/* runtime_config.c */
int srv_runtime_config(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
int srv_update_runtime_config(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
/* container_events.c */
int srv_get_container_events(srv_daemon_t *d, srv_call_t *call, const void *req, crl_error_t *err);
/* image_pull.c, image_list.c, image_status.c, image_remove.c */
int srv_pull_image(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
int srv_list_images(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
int srv_image_status(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
int srv_remove_image(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
/* image_fs_info.c */
int srv_image_fs_info(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
/* sandbox_run.c, sandbox_stop.c, sandbox_status.c */
int srv_run_pod_sandbox(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
int srv_stop_pod_sandbox(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
int srv_remove_pod_sandbox(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
int srv_pod_sandbox_status(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
int srv_list_pod_sandbox(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
int srv_stream_pod_sandboxes(srv_daemon_t *d, srv_call_t *call, const void *req, crl_error_t *err);
/* container_create.c, container_stop.c, container_status.c */
int srv_create_container(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
int srv_start_container(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
int srv_stop_container(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
int srv_remove_container(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
int srv_exec_sync(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
/* container_exec.c: the streaming calls, answered with a URL on the streaming server. */
int srv_exec(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
int srv_attach(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
int srv_port_forward(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
int srv_container_status(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
int srv_list_containers(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
int srv_stream_containers(srv_daemon_t *d, srv_call_t *call, const void *req, crl_error_t *err);
int srv_reopen_container_log(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
/* container_update.c */
int srv_update_container_resources(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
/* container_stats.c */
int srv_container_stats(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
int srv_list_container_stats(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
int srv_stream_container_stats(srv_daemon_t *d, srv_call_t *call, const void *req, crl_error_t *err);
int srv_pod_sandbox_stats(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
int srv_list_pod_sandbox_stats(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
int srv_stream_pod_sandbox_stats(srv_daemon_t *d, srv_call_t *call, const void *req, crl_error_t *err);
/* sandbox_update.c */
int srv_update_pod_sandbox_resources(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp,
				     crl_error_t *err);
/* sandbox_metrics.c */
int srv_list_metric_descriptors(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
int srv_list_pod_sandbox_metrics(srv_daemon_t *d, srv_call_t *call, const void *req, void *resp, crl_error_t *err);
int srv_stream_pod_sandbox_metrics(srv_daemon_t *d, srv_call_t *call, const void *req, crl_error_t *err);
