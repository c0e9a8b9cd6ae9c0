/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "common/error.h"

/* gRPC status codes, numbered as gRPC numbers them (grpc/status.h), so handlers and tests need no gRPC header. */
typedef enum srv_code {
	SRV_OK = 0,
	SRV_CANCELLED = 1,
	SRV_UNKNOWN = 2,
	SRV_INVALID_ARGUMENT = 3,
	SRV_DEADLINE_EXCEEDED = 4,
	SRV_NOT_FOUND = 5,
	SRV_ALREADY_EXISTS = 6,
	SRV_PERMISSION_DENIED = 7,
	SRV_RESOURCE_EXHAUSTED = 8,
	SRV_FAILED_PRECONDITION = 9,
	SRV_ABORTED = 10,
	SRV_OUT_OF_RANGE = 11,
	SRV_UNIMPLEMENTED = 12,
	SRV_INTERNAL = 13,
	SRV_UNAVAILABLE = 14,
	SRV_DATA_LOSS = 15,
	SRV_UNAUTHENTICATED = 16,
} srv_code_t;

/* The one place errors become gRPC codes. */
srv_code_t srv_status_from_error(const crl_error_t *err);
const char *srv_code_name(srv_code_t code);
