/* SPDX-License-Identifier: Apache-2.0 */
#include "status.h"

#include <errno.h>

srv_code_t srv_status_from_error(const crl_error_t *err)
{
	if (!err)
		return SRV_UNKNOWN;
	switch (err->errnum) {
	case 0:
		return SRV_OK;
	case EINVAL:
	case EDOM:
	case EILSEQ:
	case ENAMETOOLONG:
	case EBADMSG:
		return SRV_INVALID_ARGUMENT;
	case ENOENT:
	case ESRCH:
		return SRV_NOT_FOUND;
	case EEXIST:
		return SRV_ALREADY_EXISTS;
	case EPERM:
	case EACCES:
		return SRV_PERMISSION_DENIED;
	case ENOSPC:
	case EDQUOT:
	case ENOBUFS:
	case EMSGSIZE:
	case E2BIG:
	case EFBIG:
	case EMFILE:
	case ENFILE:
		return SRV_RESOURCE_EXHAUSTED;
	case EBUSY:
	case ENOTEMPTY:
	case ENOTDIR:
	case EISDIR:
	case ENOTCONN:
		return SRV_FAILED_PRECONDITION;
	case ERANGE:
	case EOVERFLOW:
		return SRV_OUT_OF_RANGE;
	case ECANCELED:
	case EINTR:
		return SRV_CANCELLED;
	case ETIMEDOUT:
		return SRV_DEADLINE_EXCEEDED;
	case ENOSYS:
	case EOPNOTSUPP:
		return SRV_UNIMPLEMENTED;
	case EAGAIN:
	case ECONNREFUSED:
	case ECONNRESET:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ESHUTDOWN:
		return SRV_UNAVAILABLE;
	case EKEYREJECTED:
		return SRV_UNAUTHENTICATED;
	case EDEADLK:
		return SRV_ABORTED;
	case ENODATA:
		return SRV_DATA_LOSS;
	default:
		return SRV_INTERNAL;
	}
}

const char *srv_code_name(srv_code_t code)
{
	static const char *const names[] = {
		"OK",
		"CANCELLED",
		"UNKNOWN",
		"INVALID_ARGUMENT",
		"DEADLINE_EXCEEDED",
		"NOT_FOUND",
		"ALREADY_EXISTS",
		"PERMISSION_DENIED",
		"RESOURCE_EXHAUSTED",
		"FAILED_PRECONDITION",
		"ABORTED",
		"OUT_OF_RANGE",
		"UNIMPLEMENTED",
		"INTERNAL",
		"UNAVAILABLE",
		"DATA_LOSS",
		"UNAUTHENTICATED",
	};
	if ((unsigned)code < sizeof(names) / sizeof(names[0]))
		return names[code];
	return "UNKNOWN";
}
