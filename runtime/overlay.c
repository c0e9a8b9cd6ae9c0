/* SPDX-License-Identifier: Apache-2.0 */
#include "overlay.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "common/cleanup.h"

static bool option_safe(const char *p)
{
	/* ',' and ':' separate overlay options and layers in the mount(2) form; '\n' ends a mountinfo line. */
	return p && *p == '/' && !strpbrk(p, ",:\n");
}

static int mount_new_api(char *const *lower, size_t n, const char *upper, const char *work, const char *target,
			 crl_error_t *err)
{
	_cleanup_close_ int fs = fsopen("overlay", FSOPEN_CLOEXEC);
	if (fs < 0)
		return -errno;
	for (size_t i = 0; i < n; i++)
		if (fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", lower[i], 0) < 0)
			return -errno; /* EINVAL: a kernel without lowerdir+ */
	if (upper && (fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0 ||
		      fsconfig(fs, FSCONFIG_SET_STRING, "workdir", work, 0) < 0))
		return crl_error_set_errno(err, errno, "overlay upper %s / work %s", upper, work);
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return crl_error_set_errno(err, errno, "create the overlay of %zu layers", n);
	_cleanup_close_ int mnt = fsmount(fs, FSMOUNT_CLOEXEC, 0);
	if (mnt < 0)
		return crl_error_set_errno(err, errno, "fsmount overlay");
	if (move_mount(mnt, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		return crl_error_set_errno(err, errno, "attach the overlay on %s", target);
	return 0;
}

int rt_overlay_mount(char *const *lower, size_t n, const char *upper, const char *work, const char *target,
		     crl_error_t *err)
{
	if (n == 0)
		return crl_error_set(err, EINVAL, "overlay: no layers");
	if ((upper == NULL) != (work == NULL))
		return crl_error_set(err, EINVAL, "overlay: upperdir and workdir go together");
	for (size_t i = 0; i < n; i++)
		if (!option_safe(lower[i]))
			return crl_error_set(err, EINVAL, "overlay: layer path '%s' must be absolute without ',' or ':'", lower[i]);
	if ((upper && !option_safe(upper)) || (work && !option_safe(work)))
		return crl_error_set(err, EINVAL, "overlay: upper/work paths must be absolute without ',' or ':'");
	int r = mount_new_api(lower, n, upper, work, target, err);
	if (r == 0 || err->errnum)
		return r;
	/* No lowerdir+ here: one option string, limited to a page. */
	size_t len = 64 + (upper ? strlen(upper) + strlen(work) : 0);
	for (size_t i = 0; i < n; i++)
		len += strlen(lower[i]) + 1;
	if (len > 4000)
		return crl_error_set(err, E2BIG, "overlay: %zu layers do not fit in a mount option string on this kernel", n);
	_cleanup_free_ char *opts = malloc(len);
	if (!opts)
		return crl_error_set(err, ENOMEM, "out of memory");
	size_t o = (size_t)snprintf(opts, len, "lowerdir=");
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(opts + o, len - o, "%s%s", i ? ":" : "", lower[i]);
	if (upper)
		snprintf(opts + o, len - o, ",upperdir=%s,workdir=%s", upper, work);
	if (mount("overlay", target, "overlay", 0, opts) < 0)
		return crl_error_set_errno(err, errno, "mount the overlay of %zu layers", n);
	return 0;
}
