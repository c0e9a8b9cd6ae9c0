/* SPDX-License-Identifier: Apache-2.0 */
/* The user a container runs as: its uid, gid and groups from the security context, the image's user and the
 * image's /etc/passwd and /etc/group. */
#include "container_spec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"

#define PASSWD_MAX (4 << 20)

/* The next line of text as fields split on ':' (at most max), in *buf (grown to the line: a long group line is
 * never cut; the caller frees it); the number of fields, or -1 at the end (or out of memory). */
static int next_entry(const char **pos, char **buf, size_t *cap, char **fields, int max)
{
	const char *p = *pos;
	if (!*p)
		return -1;
	const char *e = strchr(p, '\n');
	size_t n = e ? (size_t)(e - p) : strlen(p);
	*pos = e ? e + 1 : p + n;
	if (n + 1 > *cap) {
		char *nb = realloc(*buf, n + 1);
		if (!nb)
			return -1;
		*buf = nb;
		*cap = n + 1;
	}
	char *line = *buf;
	memcpy(line, p, n);
	line[n] = '\0';
	int k = 0;
	char *s = line;
	while (k < max) {
		fields[k++] = s;
		char *c = strchr(s, ':');
		if (!c)
			break;
		*c = '\0';
		s = c + 1;
	}
	return k;
}

bool srv_parse_id(const char *s, unsigned long *ret)
{
	if (!s || !*s)
		return false;
	char *end = NULL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v > UINT32_MAX - 1)
		return false;
	*ret = v;
	return true;
}

int srv_passwd_lookup(const char *passwd, const char *name, uid_t uid_if_no_name, uid_t *ret_uid, gid_t *ret_gid,
		      char **ret_name)
{
	const char *pos = passwd ? passwd : "";
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	char *f[7];
	int n;
	while ((n = next_entry(&pos, &line, &cap, f, 7)) >= 0) {
		unsigned long uid, gid;
		if (n < 4 || !srv_parse_id(f[2], &uid) || !srv_parse_id(f[3], &gid))
			continue;
		if (name ? strcmp(f[0], name) == 0 : uid == uid_if_no_name) {
			*ret_uid = (uid_t)uid;
			*ret_gid = (gid_t)gid;
			if (ret_name)
				*ret_name = strdup(f[0]);
			return 0;
		}
	}
	return -ENOENT;
}

int srv_group_lookup(const char *group, const char *name, gid_t *ret_gid)
{
	const char *pos = group ? group : "";
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	char *f[4];
	int n;
	while ((n = next_entry(&pos, &line, &cap, f, 4)) >= 0) {
		unsigned long gid;
		if (n >= 3 && strcmp(f[0], name) == 0 && srv_parse_id(f[2], &gid)) {
			*ret_gid = (gid_t)gid;
			return 0;
		}
	}
	return -ENOENT;
}

size_t srv_group_members(const char *group, const char *user, gid_t *ret, size_t max)
{
	const char *pos = group ? group : "";
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	char *f[4];
	int n;
	size_t k = 0;
	while (k < max && (n = next_entry(&pos, &line, &cap, f, 4)) >= 0) {
		unsigned long gid;
		if (n < 4 || !srv_parse_id(f[2], &gid))
			continue;
		char *save = NULL;
		for (char *m = strtok_r(f[3], ",", &save); m; m = strtok_r(NULL, ",", &save))
			if (strcmp(m, user) == 0) {
				ret[k++] = (gid_t)gid;
				break;
			}
	}
	return k;
}

/* name (etc/passwd, etc/group) from the topmost layer that has it; "" when none does (or one whites it out). */
static char *layer_file(char *const *layers, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		_cleanup_close_ int lfd = open(layers[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (lfd < 0)
			continue;
		crl_error_t e = CRL_ERROR_INIT;
		_cleanup_close_ int fd = crl_fs_open_beneath_nofollow(lfd, name, O_RDONLY | O_NOFOLLOW, &e);
		crl_error_clear(&e);
		if (fd < 0) {
			struct stat st;
			/* A whiteout (0/0 character device) hides the file of every layer below. */
			if (fstatat(lfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
				break;
			continue;
		}
		char *text = NULL;
		if (crl_fs_read_fd(fd, PASSWD_MAX, &text, NULL, &e) == 0)
			return text;
		crl_error_clear(&e);
		break;
	}
	return strdup("");
}

static void add_group(srv_user_t *u, gid_t g)
{
	for (size_t i = 0; i < u->n_groups; i++)
		if (u->groups[i] == g)
			return;
	if (u->n_groups < SRV_CTR_MAX_GROUPS)
		u->groups[u->n_groups++] = g;
}

int srv_user_resolve(char *const *layers, size_t n_layers, const Runtime__V1__LinuxContainerSecurityContext *sc,
		     const char *image_user, srv_user_t *ret, crl_error_t *err)
{
	_cleanup_free_ char *passwd = layer_file(layers, n_layers, "etc/passwd");
	_cleanup_free_ char *group = layer_file(layers, n_layers, "etc/group");
	if (!passwd || !group)
		return crl_error_set(err, ENOMEM, "out of memory");
	srv_user_t u = { 0 };
	_cleanup_free_ char *uname = NULL, *user_part = NULL;
	const char *group_part = NULL;
	bool have_gid = false;
	if (sc && sc->run_as_user) {
		if (sc->run_as_user->value < 0 || sc->run_as_user->value > UINT32_MAX - 1)
			return crl_error_set(err, EINVAL, "run_as_user %lld is not a uid", (long long)sc->run_as_user->value);
		u.uid = (uid_t)sc->run_as_user->value;
		gid_t g = 0;
		if (srv_passwd_lookup(passwd, NULL, u.uid, &u.uid, &g, &uname) == 0)
			u.gid = g;
	} else if (sc && sc->run_as_username && *sc->run_as_username) {
		if (srv_passwd_lookup(passwd, sc->run_as_username, 0, &u.uid, &u.gid, &uname) < 0)
			return crl_error_set(err, EINVAL, "run_as_username: user \"%s\" is not in the image's /etc/passwd",
					     sc->run_as_username);
	} else if (image_user && *image_user) {
		if (!(user_part = strdup(image_user)))
			return crl_error_set(err, ENOMEM, "out of memory");
		char *colon = strchr(user_part, ':');
		if (colon) {
			*colon = '\0';
			group_part = colon + 1;
		}
		unsigned long id;
		if (srv_parse_id(user_part, &id)) {
			u.uid = (uid_t)id;
			gid_t g = 0;
			if (srv_passwd_lookup(passwd, NULL, u.uid, &u.uid, &g, &uname) == 0)
				u.gid = g;
		} else if (srv_passwd_lookup(passwd, user_part, 0, &u.uid, &u.gid, &uname) < 0) {
			return crl_error_set(err, EINVAL, "the image's user \"%s\" is not in its /etc/passwd", user_part);
		}
		if (group_part && *group_part) {
			gid_t g;
			if (srv_parse_id(group_part, &id))
				g = (gid_t)id;
			else if (srv_group_lookup(group, group_part, &g) < 0)
				return crl_error_set(err, EINVAL, "the image's group \"%s\" is not in its /etc/group", group_part);
			u.gid = g;
			have_gid = true;
		}
	} else {
		gid_t g = 0;
		if (srv_passwd_lookup(passwd, NULL, 0, &u.uid, &g, &uname) == 0)
			u.gid = g;
	}
	if (sc && sc->run_as_group) {
		if (sc->run_as_group->value < 0 || sc->run_as_group->value > UINT32_MAX - 1)
			return crl_error_set(err, EINVAL, "run_as_group %lld is not a gid", (long long)sc->run_as_group->value);
		u.gid = (gid_t)sc->run_as_group->value;
		have_gid = true;
	}
	(void)have_gid;
	bool strict = sc && sc->supplemental_groups_policy == RUNTIME__V1__SUPPLEMENTAL_GROUPS_POLICY__Strict;
	/* The user's own groups from the image (policy Merge), then the pod's. */
	if (uname && !strict) {
		gid_t gs[SRV_CTR_MAX_GROUPS];
		size_t n = srv_group_members(group, uname, gs, SRV_CTR_MAX_GROUPS);
		for (size_t i = 0; i < n; i++)
			add_group(&u, gs[i]);
	}
	for (size_t i = 0; sc && i < sc->n_supplemental_groups; i++) {
		if (sc->supplemental_groups[i] < 0 || sc->supplemental_groups[i] > UINT32_MAX - 1)
			return crl_error_set(err, EINVAL, "supplemental_groups[%zu] is not a gid", i);
		add_group(&u, (gid_t)sc->supplemental_groups[i]);
	}
	*ret = u;
	return 0;
}
