/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void crl_freep(void *p)
{
	free(*(void **)p);
}

static inline void crl_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void crl_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

/* Frees a NULL-terminated array of strings. */
static inline void crl_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static inline void crl_strv_freep(char ***v)
{
	crl_strv_free(*v);
}

#define _cleanup_free_ _cleanup_(crl_freep)
#define _cleanup_close_ _cleanup_(crl_closep)
#define _cleanup_fclose_ _cleanup_(crl_fclosep)
#define _cleanup_strv_ _cleanup_(crl_strv_freep)

/* Take ownership out of a cleanup variable. */
#define TAKE_PTR(p)                              \
	({                                       \
		__typeof__(p) _take_tmp_ = (p);  \
		(p) = NULL;                      \
		_take_tmp_;                      \
	})

#define TAKE_FD(fd)                   \
	({                            \
		int _take_fd_ = (fd); \
		(fd) = -1;            \
		_take_fd_;            \
	})

#define CRL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
