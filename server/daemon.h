/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <pthread.h>

#include "config.h"

typedef struct srv_events srv_events_t;

/* The daemon's one context object, passed to every handler. */
struct srv_daemon {
	srv_config_t cfg;
	char *socket_path;
	int root_fd;    /* cfg.root, held open */
	int runroot_fd; /* cfg.runroot, held open */
	char *image_dir; /* <root>/images: the image store */
	struct img_store *images;
	struct img_http *http;
	long pull_progress_timeout_s;
	srv_events_t *events;
	struct srv_store *pods;
	int pods_fd;        /* <root>/pods: one record per pod */
	char *pods_rundir;  /* <runroot>/pods: one directory per pod (monitor, namespaces, files) */
	char *monitor_bin;  /* crio-lite-monitor */
	struct srv_store *ctrs;
	int ctrs_fd;        /* <root>/containers: one record per container */
	char *ctrs_dir;     /* <root>/containers: one bundle directory per container */
	int plugin_timeout_ms;
	struct srv_exits *exits; /* container exits as they happen */
	struct srv_stream *stream; /* the streaming server (exec, attach, port-forward) */

	pthread_mutex_t lock; /* guards what follows */
	char *pod_cidr;       /* from UpdateRuntimeConfig; "" until kubelet sends one */
};
