/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>

#include "api.pb-c.h"
#include "common/error.h"

typedef struct srv_events srv_events_t;

/* Subscribers of GetContainerEvents and delivery to them. */
int srv_events_new(srv_events_t **ret, crl_error_t *err);
void srv_events_free(srv_events_t *ev);
/* Sends msg to every open stream; a stream that cannot keep up is ended, never silently skipped. */
void srv_events_publish(srv_events_t *ev, const Runtime__V1__ContainerEventResponse *msg);
size_t srv_events_count(srv_events_t *ev);
