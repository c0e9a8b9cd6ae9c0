/* SPDX-License-Identifier: Apache-2.0 */
/* A container's config.json from CRI, its pod and its image. */
#include "container_spec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "runtime/spec.h"

#define NS_POD RUNTIME__V1__NAMESPACE_MODE__POD
#define NS_CONTAINER RUNTIME__V1__NAMESPACE_MODE__CONTAINER
#define NS_NODE RUNTIME__V1__NAMESPACE_MODE__NODE
#define NS_TARGET RUNTIME__V1__NAMESPACE_MODE__TARGET

/* What a container gets when its security context adds and drops nothing: Docker's and containerd's set. */
static const char *const default_caps[] = { "CAP_CHOWN",	    "CAP_DAC_OVERRIDE", "CAP_FSETID",	    "CAP_FOWNER",
					    "CAP_MKNOD",	    "CAP_NET_RAW",	"CAP_SETGID",	    "CAP_SETUID",
					    "CAP_SETFCAP",	    "CAP_SETPCAP",	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
					    "CAP_KILL",		    "CAP_AUDIT_WRITE" };


/* --- signals --- */

int srv_signal_from_name(const char *s)
{
	static const struct {
		const char *name;
		int sig;
	} sigs[] = { { "HUP", SIGHUP },	    { "INT", SIGINT },	 { "QUIT", SIGQUIT }, { "ILL", SIGILL },   { "TRAP", SIGTRAP },
		     { "ABRT", SIGABRT },   { "BUS", SIGBUS },	 { "FPE", SIGFPE },   { "KILL", SIGKILL }, { "USR1", SIGUSR1 },
		     { "SEGV", SIGSEGV },   { "USR2", SIGUSR2 }, { "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM },
		     { "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
		     { "TSTP", SIGTSTP },   { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU }, { "URG", SIGURG },   { "XCPU", SIGXCPU },
		     { "XFSZ", SIGXFSZ },   { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF }, { "WINCH", SIGWINCH },
		     { "IO", SIGIO },	    { "PWR", SIGPWR },	 { "SYS", SIGSYS } };
	if (!s || !*s)
		return 0;
	unsigned long n;
	if (srv_parse_id(s, &n))
		return n > 0 && n < NSIG ? (int)n : 0;
	if (strncmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < CRL_ARRAY_SIZE(sigs); i++)
		if (strcmp(s, sigs[i].name) == 0)
			return sigs[i].sig;
	return 0;
}

/* CRI's Signal enum (SIGNAL_SIGABRT = 1 ...) as a signal number. */
static int cri_signal(int v)
{
	static const int map[] = { 0,	    SIGABRT, SIGALRM, SIGBUS,  SIGCHLD, SIGCHLD, SIGCONT, SIGFPE,  SIGHUP,
				   SIGILL,  SIGIO,   SIGIOT,  SIGKILL, SIGPIPE, SIGPOLL, SIGPROF, SIGPWR,  SIGQUIT,
				   SIGSEGV, SIGSTKFLT, SIGSTOP, SIGSYS, SIGTERM, SIGTRAP, SIGTSTP, SIGTTIN, SIGTTOU,
				   SIGURG,  SIGUSR1, SIGUSR2, SIGVTALRM, SIGWINCH, SIGXCPU, SIGXFSZ };
	if (v > 0 && (size_t)v < CRL_ARRAY_SIZE(map))
		return map[v];
	if (v >= 35 && v <= 65)
		return SIGRTMIN + (v - 35);
	return 0;
}

srv_seccomp_t srv_seccomp_kind(const Runtime__V1__LinuxContainerSecurityContext *sc, const char **ret_path)
{
	*ret_path = NULL;
	if (!sc || sc->privileged)
		return SRV_SECCOMP_NONE;
	const Runtime__V1__SecurityProfile *p = sc->seccomp;
	if (p) {
		if (p->profile_type == RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__RuntimeDefault)
			return SRV_SECCOMP_DEFAULT;
		if (p->profile_type != RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost)
			return SRV_SECCOMP_NONE;
		*ret_path = p->localhost_ref;
		return SRV_SECCOMP_LOCALHOST;
	}
	/* Deprecated in CRI, still sent by older kubelets and by critest. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	const char *path = sc->seccomp_profile_path;
#pragma GCC diagnostic pop
	if (!path || !*path || strcmp(path, "unconfined") == 0)
		return SRV_SECCOMP_NONE;
	if (strcmp(path, "runtime/default") == 0 || strcmp(path, "docker/default") == 0)
		return SRV_SECCOMP_DEFAULT;
	*ret_path = path;
	if (strncmp(path, "localhost/", 10) != 0)
		return SRV_SECCOMP_INVALID;
	*ret_path = path + 9;
	return SRV_SECCOMP_LOCALHOST;
}

/* --- the spec --- */

static int strv_member(crl_json_t *j, const char *key, char *const *v, size_t n)
{
	crl_json_key(j, key);
	crl_json_array_begin(j);
	for (size_t i = 0; i < n; i++)
		crl_json_string(j, v[i]);
	crl_json_array_end(j);
	return 0;
}

static size_t json_strings(const crl_json_value_t *arr, const char **out, size_t max)
{
	size_t n = crl_json_array_len(arr), k = 0;
	for (size_t i = 0; i < n && k < max; i++) {
		const char *s = crl_json_get_string(crl_json_array_at(arr, i));
		if (s)
			out[k++] = s;
	}
	return k;
}

/* command replaces the image's Entrypoint and drops its Cmd; args alone replace Cmd (kubelet's rule). */
static int process_args(const srv_spec_in_t *in, crl_json_t *j, crl_error_t *err)
{
	const Runtime__V1__ContainerConfig *c = in->cfg;
	const char **argv = calloc(SRV_CTR_MAX_ARGS, sizeof(*argv));
	if (!argv)
		return crl_error_set(err, ENOMEM, "out of memory");
	size_t n = 0;
	if (c->n_command + c->n_args > SRV_CTR_MAX_ARGS) {
		free(argv);
		return crl_error_set(err, EINVAL, "config.command and args: more than %d words", SRV_CTR_MAX_ARGS);
	}
	if (c->n_command) {
		for (size_t i = 0; i < c->n_command; i++)
			argv[n++] = c->command[i];
	} else {
		n = json_strings(crl_json_get(in->image, "Entrypoint"), argv, SRV_CTR_MAX_ARGS / 2);
	}
	if (c->n_args) {
		for (size_t i = 0; i < c->n_args; i++)
			argv[n++] = c->args[i];
	} else if (!c->n_command) {
		n += json_strings(crl_json_get(in->image, "Cmd"), argv + n, SRV_CTR_MAX_ARGS / 2);
	}
	if (n == 0) {
		free(argv);
		return crl_error_set(err, EINVAL, "no command: config.command, config.args and the image's Entrypoint "
						  "and Cmd are all empty");
	}
	crl_json_key(j, "args");
	crl_json_array_begin(j);
	for (size_t i = 0; i < n; i++)
		crl_json_string(j, argv[i]);
	crl_json_array_end(j);
	free(argv);
	return 0;
}

/* The image's Env, then config.envs over it by name. */
static int process_env(const srv_spec_in_t *in, crl_json_t *j, crl_error_t *err)
{
	const Runtime__V1__ContainerConfig *c = in->cfg;
	const crl_json_value_t *ienv = crl_json_get(in->image, "Env");
	size_t ni = crl_json_array_len(ienv);
	if (ni + c->n_envs > SRV_CTR_MAX_ENV)
		return crl_error_set(err, EINVAL, "config.envs: more than %d variables", SRV_CTR_MAX_ENV);
	crl_json_key(j, "env");
	crl_json_array_begin(j);
	bool have_path = false;
	for (size_t i = 0; i < ni; i++) {
		const char *e = crl_json_get_string(crl_json_array_at(ienv, i));
		if (!e)
			continue;
		size_t kl = strcspn(e, "=");
		bool overridden = false;
		for (size_t k = 0; k < c->n_envs && !overridden; k++)
			overridden = strlen(c->envs[k]->key) == kl && strncmp(c->envs[k]->key, e, kl) == 0;
		if (overridden)
			continue;
		have_path |= kl == 4 && strncmp(e, "PATH", 4) == 0;
		crl_json_string(j, e);
	}
	for (size_t k = 0; k < c->n_envs; k++) {
		const char *key = c->envs[k]->key;
		ProtobufCBinaryData val = c->envs[k]->value;
		if (!key || !*key || strchr(key, '='))
			return crl_error_set(err, EINVAL, "config.envs[%zu]: bad name '%.64s'", k, key ? key : "");
		/* Bytes on the wire (binary values are allowed), but an environment string ends at NUL. */
		if (val.len && memchr(val.data, '\0', val.len))
			return crl_error_set(err, EINVAL, "config.envs[%zu] (%.64s): the value holds a NUL byte", k, key);
		/* Last one wins, as kubelet and Docker have it. */
		bool later = false;
		for (size_t m = k + 1; m < c->n_envs && !later; m++)
			later = strcmp(c->envs[m]->key, key) == 0;
		if (later)
			continue;
		have_path |= strcmp(key, "PATH") == 0;
		_cleanup_free_ char *kv = NULL;
		if (asprintf(&kv, "%s=%.*s", key, (int)val.len, val.len ? (const char *)val.data : "") < 0)
			return crl_error_set(err, ENOMEM, "out of memory");
		crl_json_string(j, kv);
	}
	if (!have_path)
		crl_json_string(j, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	crl_json_array_end(j);
	return 0;
}

static bool cap_name(const char *in, char out[64])
{
	snprintf(out, 64, "%s%s", strncasecmp(in, "CAP_", 4) == 0 ? "" : "CAP_", in);
	for (char *p = out; *p; p++)
		*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
	return rt_cap_from_name(out) >= 0;
}

static int capabilities(const srv_spec_in_t *in, crl_json_t *j, crl_error_t *err)
{
	const Runtime__V1__LinuxContainerSecurityContext *sc = in->cfg->linux ? in->cfg->linux->security_context : NULL;
	uint64_t set = 0, all = 0;
	for (int i = 0; rt_cap_name(i); i++)
		all |= 1ULL << i;
	if (sc && sc->privileged) {
		set = all;
	} else {
		for (size_t i = 0; i < CRL_ARRAY_SIZE(default_caps); i++)
			set |= 1ULL << rt_cap_from_name(default_caps[i]);
		const Runtime__V1__Capability *cap = sc ? sc->capabilities : NULL;
		for (size_t pass = 0; cap && pass < 2; pass++) {
			/* Drops first, then adds: "drop ALL, add X" leaves X (kubelet's and containerd's order). */
			char *const *v = pass == 0 ? cap->drop_capabilities : cap->add_capabilities;
			size_t n = pass == 0 ? cap->n_drop_capabilities : cap->n_add_capabilities;
			for (size_t i = 0; i < n; i++) {
				char name[64];
				if (strcasecmp(v[i], "ALL") == 0) {
					set = pass == 0 ? 0 : all;
					continue;
				}
				if (!cap_name(v[i], name))
					return crl_error_set(err, EINVAL, "config.linux.security_context.capabilities: unknown "
									  "capability '%.64s'",
							     v[i]);
				int b = rt_cap_from_name(name);
				if (pass == 0)
					set &= ~(1ULL << b);
				else
					set |= 1ULL << b;
			}
		}
	}
	static const char *const sets[] = { "bounding", "effective", "permitted" };
	crl_json_key(j, "capabilities");
	crl_json_object_begin(j);
	for (size_t s = 0; s < CRL_ARRAY_SIZE(sets); s++) {
		crl_json_key(j, sets[s]);
		crl_json_array_begin(j);
		for (int i = 0; rt_cap_name(i); i++)
			if (set & (1ULL << i))
				crl_json_string(j, rt_cap_name(i));
		crl_json_array_end(j);
	}
	crl_json_object_end(j);
	return 0;
}

static void mount_entry(crl_json_t *j, const char *dst, const char *type, const char *src, const char *const *opts)
{
	crl_json_object_begin(j);
	crl_json_kv_string(j, "destination", dst);
	crl_json_kv_string(j, "type", type);
	crl_json_kv_string(j, "source", src);
	crl_json_key(j, "options");
	crl_json_array_begin(j);
	for (const char *const *o = opts; o && *o; o++)
		crl_json_string(j, *o);
	crl_json_array_end(j);
	crl_json_object_end(j);
}

static bool ctr_mounts(const Runtime__V1__ContainerConfig *c, const char *dst)
{
	for (size_t i = 0; i < c->n_mounts; i++)
		if (c->mounts[i]->container_path && strcmp(c->mounts[i]->container_path, dst) == 0)
			return true;
	return false;
}

static int mounts(const srv_spec_in_t *in, bool privileged, crl_json_t *j, crl_error_t *err)
{
	const Runtime__V1__ContainerConfig *c = in->cfg;
	if (c->n_mounts > SRV_CTR_MAX_MOUNTS)
		return crl_error_set(err, EINVAL, "config.mounts: more than %d", SRV_CTR_MAX_MOUNTS);
	crl_json_key(j, "mounts");
	crl_json_array_begin(j);
	static const char *const proc_o[] = { "nosuid", "noexec", "nodev", NULL };
	static const char *const dev_o[] = { "nosuid", "strictatime", "mode=755", "size=65536k", NULL };
	static const char *const pts_o[] = { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5", NULL };
	static const char *const mq_o[] = { "nosuid", "noexec", "nodev", NULL };
	static const char *const sys_ro[] = { "nosuid", "noexec", "nodev", "ro", NULL };
	static const char *const sys_rw[] = { "nosuid", "noexec", "nodev", "rw", NULL };
	static const char *const cg_o[] = { "nosuid", "noexec", "nodev", "relatime", "ro", NULL };
	static const char *const shm_o[] = { "nosuid", "noexec", "nodev", "mode=1777", "size=65536k", NULL };
	static const char *const bind_rw[] = { "rbind", "rprivate", "rw", NULL };
	mount_entry(j, "/proc", "proc", "proc", proc_o);
	mount_entry(j, "/dev", "tmpfs", "tmpfs", dev_o);
	mount_entry(j, "/dev/pts", "devpts", "devpts", pts_o);
	mount_entry(j, "/dev/mqueue", "mqueue", "mqueue", mq_o);
	mount_entry(j, "/sys", "sysfs", "sysfs", privileged ? sys_rw : sys_ro);
	mount_entry(j, "/sys/fs/cgroup", "cgroup", "cgroup", cg_o);
	char path[4096];
	if (!ctr_mounts(c, "/dev/shm")) {
		if (in->pod_ns.ipc != NS_NODE) {
			snprintf(path, sizeof(path), "%s/shm", in->pod_dir);
			mount_entry(j, "/dev/shm", "bind", path, bind_rw);
		} else {
			mount_entry(j, "/dev/shm", "tmpfs", "shm", shm_o);
		}
	}
	static const char *const files[] = { "/etc/resolv.conf", "/etc/hostname" };
	for (size_t i = 0; i < CRL_ARRAY_SIZE(files); i++) {
		if (ctr_mounts(c, files[i]))
			continue;
		snprintf(path, sizeof(path), "%s/%s", in->pod_dir, files[i] + 5);
		mount_entry(j, files[i], "bind", path, bind_rw);
	}
	for (size_t i = 0; i < c->n_mounts; i++) {
		const Runtime__V1__Mount *m = c->mounts[i];
		int r;
		if (m->host_path && m->host_path[0] == '/' &&
		    (r = srv_check_propagation(m->host_path, m->propagation, i, err)) < 0)
			return r;
		if (!m->container_path || m->container_path[0] != '/')
			return crl_error_set(err, EINVAL, "config.mounts[%zu].container_path '%.200s' is not absolute", i,
					     m->container_path ? m->container_path : "");
		if (!m->host_path || m->host_path[0] != '/')
			return crl_error_set(err, EINVAL, "config.mounts[%zu].host_path '%.200s' is not absolute", i,
					     m->host_path ? m->host_path : "");
		const char *prop = m->propagation == RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_BIDIRECTIONAL ? "rshared" :
				   m->propagation == RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER ? "rslave" :
														      "rprivate";
		const char *o[] = { "rbind", prop, m->readonly ? "ro" : "rw", NULL };
		mount_entry(j, m->container_path, "bind", m->host_path, o);
	}
	crl_json_array_end(j);
	return 0;
}

int srv_check_propagation(const char *host_path, int propagation, size_t index, crl_error_t *err)
{
	if (propagation == RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_PRIVATE)
		return 0;
	char mnt[PATH_MAX], tags[512];
	crl_error_t e = CRL_ERROR_INIT;
	if (crl_fs_mount_of(host_path, mnt, sizeof(mnt), tags, sizeof(tags), &e) < 0) {
		crl_error_clear(&e);
		return crl_error_set(err, EIO, "config.mounts[%zu]: cannot find the mount of %.200s", index, host_path);
	}
	bool shared = strstr(tags, "shared:") != NULL, slave = strstr(tags, "master:") != NULL;
	if (propagation == RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_BIDIRECTIONAL && !shared)
		return crl_error_set(err, EINVAL, "config.mounts[%zu]: bidirectional propagation needs %.200s on a shared "
						  "mount, but its mount %.200s is not shared",
				     index, host_path, mnt);
	if (propagation == RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER && !shared && !slave)
		return crl_error_set(err, EINVAL, "config.mounts[%zu]: host-to-container propagation needs %.200s on a "
						  "shared or slave mount, but its mount %.200s is private",
				     index, host_path, mnt);
	return 0;
}

static void ns_entry(crl_json_t *j, const char *type, const char *path)
{
	crl_json_object_begin(j);
	crl_json_kv_string(j, "type", type);
	if (path)
		crl_json_kv_string(j, "path", path);
	crl_json_object_end(j);
}

static int namespaces(const srv_spec_in_t *in, crl_json_t *j, crl_error_t *err)
{
	const Runtime__V1__LinuxContainerSecurityContext *sc = in->cfg->linux ? in->cfg->linux->security_context : NULL;
	const Runtime__V1__NamespaceOption *o = sc ? sc->namespace_options : NULL;
	int pid_mode = o ? (int)o->pid : in->pod_ns.pid;
	char path[4096];
	crl_json_key(j, "namespaces");
	crl_json_array_begin(j);
	ns_entry(j, "mount", NULL);
	if (in->pod_ns.network != NS_NODE) {
		snprintf(path, sizeof(path), "%s/ns/net", in->pod_dir);
		ns_entry(j, "network", path);
		snprintf(path, sizeof(path), "%s/ns/uts", in->pod_dir);
		ns_entry(j, "uts", path);
	}
	if (in->pod_ns.ipc != NS_NODE) {
		snprintf(path, sizeof(path), "%s/ns/ipc", in->pod_dir);
		ns_entry(j, "ipc", path);
	}
	if (pid_mode == NS_POD) {
		if (in->pod_ns.pid != NS_POD)
			return crl_error_set(err, EINVAL, "namespace_options.pid is POD but the pod has no PID namespace of "
							  "its own");
		snprintf(path, sizeof(path), "%s/ns/pid", in->pod_dir);
		ns_entry(j, "pid", path);
	} else if (pid_mode == NS_CONTAINER) {
		ns_entry(j, "pid", NULL);
	} else if (pid_mode == NS_TARGET) {
		if (in->target_pid <= 0)
			return crl_error_set(err, EINVAL, "namespace_options.target_id names no running container");
		/* The monitor's pid numbers are the pod's PID namespace's when it has one: that /proc is at
		 * <pod_dir>/proc. */
		if (in->pod_ns.pid == NS_POD)
			snprintf(path, sizeof(path), "%s/proc/%d/ns/pid", in->pod_dir, (int)in->target_pid);
		else
			snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)in->target_pid);
		ns_entry(j, "pid", path);
	} else if (pid_mode != NS_NODE) {
		return crl_error_set(err, EINVAL, "namespace_options.pid: unknown mode %d", pid_mode);
	}
	crl_json_array_end(j);
	return 0;
}

/* A device of config.devices, as the node has it. */
typedef struct dev_rule {
	char type; /* 'c' or 'b' */
	unsigned major, minor;
	unsigned mode;
	const char *path, *access;
} dev_rule_t;

static void device_rules(const dev_rule_t *devs, size_t n, bool privileged, crl_json_t *j)
{
	if (!privileged && !n)
		return;
	crl_json_key(j, "devices");
	crl_json_array_begin(j);
	if (privileged) {
		/* Every device of the node may be opened: one rule allowing all. */
		crl_json_object_begin(j);
		crl_json_kv_bool(j, "allow", true);
		crl_json_kv_string(j, "access", "rwm");
		crl_json_object_end(j);
	}
	for (size_t i = 0; i < n; i++) {
		char t[2] = { devs[i].type, 0 };
		crl_json_object_begin(j);
		crl_json_kv_bool(j, "allow", true);
		crl_json_kv_string(j, "type", t);
		crl_json_kv_int(j, "major", devs[i].major);
		crl_json_kv_int(j, "minor", devs[i].minor);
		crl_json_kv_string(j, "access", devs[i].access);
		crl_json_object_end(j);
	}
	crl_json_array_end(j);
}

/* config.devices: each host device (followed through symlinks, as kubelet names them) must be a character or
 * block device; its node is made at container_path with the permissions given (r, w, m; empty: all). */
static int devices(const Runtime__V1__ContainerConfig *c, dev_rule_t *out, crl_error_t *err)
{
	for (size_t i = 0; i < c->n_devices; i++) {
		const Runtime__V1__Device *d = c->devices[i];
		const char *hp = d->host_path ? d->host_path : "", *cp = d->container_path ? d->container_path : "";
		const char *perm = d->permissions && *d->permissions ? d->permissions : "rwm";
		struct stat st;
		if (hp[0] != '/' || stat(hp, &st) < 0)
			return crl_error_set(err, EINVAL, "config.devices[%zu].host_path '%.200s' does not exist", i, hp);
		if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
			return crl_error_set(err, EINVAL, "config.devices[%zu].host_path '%.200s' is not a device", i, hp);
		if (strncmp(cp, "/dev/", 5) != 0 || !cp[5] || strstr(cp, ".."))
			return crl_error_set(err, EINVAL, "config.devices[%zu].container_path '%.200s' is not a path below /dev/",
					     i, cp);
		if (strlen(perm) > 3 || strspn(perm, "rwm") != strlen(perm))
			return crl_error_set(err, EINVAL, "config.devices[%zu].permissions '%.16s' is not made of r, w and m", i,
					     perm);
		out[i] = (dev_rule_t){ S_ISCHR(st.st_mode) ? 'c' : 'b', major(st.st_rdev), minor(st.st_rdev),
				       st.st_mode & 0777, cp, perm };
	}
	return 0;
}

static void resources_object(const Runtime__V1__LinuxContainerResources *r, const dev_rule_t *devs, size_t n_devs,
			     bool privileged, crl_json_t *j)
{
	crl_json_object_begin(j);
	device_rules(devs, n_devs, privileged, j);
	if (r) {
		crl_json_key(j, "cpu");
		crl_json_object_begin(j);
		if (r->cpu_shares > 0)
			crl_json_kv_int(j, "shares", r->cpu_shares);
		if (r->cpu_quota > 0)
			crl_json_kv_int(j, "quota", r->cpu_quota);
		if (r->cpu_period > 0)
			crl_json_kv_int(j, "period", r->cpu_period);
		if (r->cpuset_cpus && *r->cpuset_cpus)
			crl_json_kv_string(j, "cpus", r->cpuset_cpus);
		if (r->cpuset_mems && *r->cpuset_mems)
			crl_json_kv_string(j, "mems", r->cpuset_mems);
		crl_json_object_end(j);
		crl_json_key(j, "memory");
		crl_json_object_begin(j);
		if (r->memory_limit_in_bytes > 0)
			crl_json_kv_int(j, "limit", r->memory_limit_in_bytes);
		if (r->memory_swap_limit_in_bytes > 0 || r->memory_swap_limit_in_bytes == -1)
			crl_json_kv_int(j, "swap", r->memory_swap_limit_in_bytes);
		crl_json_object_end(j);
		if (r->n_hugepage_limits) {
			crl_json_key(j, "hugepageLimits");
			crl_json_array_begin(j);
			for (size_t i = 0; i < r->n_hugepage_limits; i++) {
				crl_json_object_begin(j);
				crl_json_kv_string(j, "pageSize", r->hugepage_limits[i]->page_size);
				crl_json_kv_int(j, "limit", (int64_t)r->hugepage_limits[i]->limit);
				crl_json_object_end(j);
			}
			crl_json_array_end(j);
		}
		if (r->n_unified) {
			crl_json_key(j, "unified");
			crl_json_object_begin(j);
			for (size_t i = 0; i < r->n_unified; i++)
				crl_json_kv_string(j, r->unified[i]->key, r->unified[i]->value);
			crl_json_object_end(j);
		}
	}
	crl_json_object_end(j);
}

char *srv_resources_json(const Runtime__V1__LinuxContainerResources *r)
{
	crl_json_t *j = crl_json_new(false);
	resources_object(r, NULL, 0, false, j);
	return crl_json_finish_text(j, NULL);
}

static int security_profile(const srv_spec_in_t *in, crl_json_t *j, bool *ret_default, crl_error_t *err)
{
	const Runtime__V1__LinuxContainerSecurityContext *sc = in->cfg->linux ? in->cfg->linux->security_context : NULL;
	const char *path = NULL;
	srv_seccomp_t kind = srv_seccomp_kind(sc, &path);
	*ret_default = false;
	if (kind == SRV_SECCOMP_INVALID)
		return crl_error_set(err, EINVAL, "seccomp_profile_path '%.200s' is not runtime/default, docker/default, "
						  "unconfined or localhost/<path>",
				     path);
	if (kind == SRV_SECCOMP_LOCALHOST) {
		crl_json_value_t *prof = NULL;
		if (!in->seccomp_json || crl_json_parse(in->seccomp_json, &prof, err) < 0 || !crl_json_is_object(prof)) {
			crl_json_value_free(prof);
			return crl_error_set(err, EINVAL, "the Localhost seccomp profile is not a JSON object");
		}
		crl_json_key(j, "seccomp");
		crl_json_value(j, prof);
		crl_json_value_free(prof);
	}
	*ret_default = kind == SRV_SECCOMP_DEFAULT;
	return 0;
}

int srv_container_spec(const srv_spec_in_t *in, char **ret_json, int *ret_stop_signal, crl_error_t *err)
{
	const Runtime__V1__ContainerConfig *c = in->cfg;
	const Runtime__V1__LinuxContainerConfig *lc = c->linux;
	const Runtime__V1__LinuxContainerSecurityContext *sc = lc ? lc->security_context : NULL;
	bool privileged = sc && sc->privileged;
	if (c->n_devices > SRV_CTR_MAX_DEVICES)
		return crl_error_set(err, EINVAL, "config.devices: more than %d", SRV_CTR_MAX_DEVICES);
	dev_rule_t devs[SRV_CTR_MAX_DEVICES];
	/* Before any jump to fail: what it cleans up is set. */
	int r = devices(c, devs, err);
	if (r < 0)
		return r;
	crl_json_t *j = crl_json_new(false);
	crl_json_object_begin(j);
	crl_json_kv_string(j, "ociVersion", "1.0.2");
	crl_json_key(j, "process");
	crl_json_object_begin(j);
	crl_json_kv_bool(j, "terminal", c->tty);
	crl_json_key(j, "user");
	crl_json_object_begin(j);
	crl_json_kv_int(j, "uid", in->user->uid);
	crl_json_kv_int(j, "gid", in->user->gid);
	crl_json_key(j, "additionalGids");
	crl_json_array_begin(j);
	for (size_t i = 0; i < in->user->n_groups; i++)
		crl_json_int(j, in->user->groups[i]);
	crl_json_array_end(j);
	crl_json_object_end(j);
	if ((r = process_args(in, j, err)) < 0 || (r = process_env(in, j, err)) < 0)
		goto fail;
	const char *cwd = c->working_dir && *c->working_dir ? c->working_dir :
			  crl_json_get_string(crl_json_get(in->image, "WorkingDir"));
	if (cwd && *cwd && cwd[0] != '/') {
		r = crl_error_set(err, EINVAL, "config.working_dir '%.200s' is not absolute", cwd);
		goto fail;
	}
	crl_json_kv_string(j, "cwd", cwd && *cwd ? cwd : "/");
	if ((r = capabilities(in, j, err)) < 0)
		goto fail;
	crl_json_kv_bool(j, "noNewPrivileges", sc && sc->no_new_privs && !privileged);
	if (lc && lc->resources && lc->resources->oom_score_adj)
		crl_json_kv_int(j, "oomScoreAdj", lc->resources->oom_score_adj);
	const char *aa = sc && sc->apparmor && sc->apparmor->profile_type == RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost ?
				 sc->apparmor->localhost_ref :
				 NULL;
	if (aa && *aa)
		crl_json_kv_string(j, "apparmorProfile", aa);
	crl_json_object_end(j);

	crl_json_key(j, "root");
	crl_json_object_begin(j);
	crl_json_kv_string(j, "path", in->rootfs);
	crl_json_kv_bool(j, "readonly", sc && sc->readonly_rootfs);
	crl_json_object_end(j);
	const char *hn = in->pod_cfg && in->pod_cfg->hostname ? in->pod_cfg->hostname : "";
	if (*hn && in->pod_ns.network != NS_NODE)
		crl_json_kv_string(j, "hostname", hn);
	if ((r = mounts(in, privileged, j, err)) < 0)
		goto fail;

	crl_json_key(j, "linux");
	crl_json_object_begin(j);
	/* A bidirectional mount needs the container's mounts peers of the node's (CRI-O's and containerd's rule);
	 * the library's default, rslave, carries the node's mounts in only. */
	for (size_t i = 0; i < c->n_mounts; i++)
		if (c->mounts[i]->propagation == RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_BIDIRECTIONAL) {
			crl_json_kv_string(j, "rootfsPropagation", "rshared");
			break;
		}
	if ((r = namespaces(in, j, err)) < 0)
		goto fail;
	crl_json_kv_string(j, "cgroupsPath", in->cgroup);
	crl_json_key(j, "devices");
	crl_json_array_begin(j);
	for (size_t i = 0; i < c->n_devices; i++) {
		char t[2] = { devs[i].type, 0 };
		crl_json_object_begin(j);
		crl_json_kv_string(j, "path", devs[i].path);
		crl_json_kv_string(j, "type", t);
		crl_json_kv_int(j, "major", devs[i].major);
		crl_json_kv_int(j, "minor", devs[i].minor);
		crl_json_kv_int(j, "fileMode", devs[i].mode);
		crl_json_kv_int(j, "uid", 0);
		crl_json_kv_int(j, "gid", 0);
		crl_json_object_end(j);
	}
	crl_json_array_end(j);
	crl_json_key(j, "resources");
	resources_object(lc ? lc->resources : NULL, devs, c->n_devices, privileged, j);
	if (sc && !privileged) {
		strv_member(j, "maskedPaths", sc->masked_paths, sc->n_masked_paths);
		strv_member(j, "readonlyPaths", sc->readonly_paths, sc->n_readonly_paths);
	}
	bool seccomp_default = false;
	if ((r = security_profile(in, j, &seccomp_default, err)) < 0)
		goto fail;
	crl_json_object_end(j);

	crl_json_key(j, "annotations");
	crl_json_object_begin(j);
	for (size_t i = 0; i < c->n_annotations; i++)
		if (strncmp(c->annotations[i]->key, "org.crio-lite.", 14) != 0)
			crl_json_kv_string(j, c->annotations[i]->key, c->annotations[i]->value);
	if (seccomp_default)
		crl_json_kv_string(j, RT_ANN_SECCOMP_PROFILE, "runtime/default");
	crl_json_key(j, RT_ANN_OVERLAY_LOWER);
	{
		crl_json_t *l = crl_json_new(false);
		crl_json_array_begin(l);
		for (size_t i = 0; i < in->n_layers; i++)
			crl_json_string(l, in->layers[i]);
		crl_json_array_end(l);
		_cleanup_free_ char *lt = crl_json_finish_text(l, NULL);
		crl_json_string(j, lt ? lt : "[]");
	}
	crl_json_kv_string(j, RT_ANN_OVERLAY_UPPER, in->upper);
	crl_json_kv_string(j, RT_ANN_OVERLAY_WORK, in->work);
	crl_json_object_end(j);
	crl_json_object_end(j);

	int stop = cri_signal(c->stop_signal);
	if (!stop)
		stop = srv_signal_from_name(crl_json_get_string(crl_json_get(in->image, "StopSignal")));
	*ret_stop_signal = stop;
	return crl_json_finish(j, ret_json, NULL, err);
fail:
	crl_json_free(j);
	return r;
}
