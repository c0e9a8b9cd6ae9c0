/* SPDX-License-Identifier: Apache-2.0 */
#include "security.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include <stdbool.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

#define LAST_CAP 40

bool rt_apparmor_enabled(void)
{
	char buf[8];
	return crl_fs_read_small("/sys/module/apparmor/parameters/enabled", buf, sizeof(buf)) > 0 && buf[0] == 'Y';
}

int rt_apparmor_check(const char *profile, crl_error_t *err)
{
	if (!profile || !*profile || strcmp(profile, "unconfined") == 0 || rt_apparmor_enabled())
		return 0;
	return crl_error_set(err, EOPNOTSUPP, "process.apparmorProfile '%s': this host has no AppArmor", profile);
}

int rt_apply_apparmor(const char *profile, crl_error_t *err)
{
	int r = rt_apparmor_check(profile, err);
	if (r < 0 || !profile || !*profile || !rt_apparmor_enabled())
		return r;
	/* The profile the next exec enters (aa_change_onexec): the LSM-specific file, else the shared one. */
	int fd = open("/proc/thread-self/attr/apparmor/exec", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		fd = open("/proc/thread-self/attr/exec", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return crl_error_set_errno(err, errno, "open the AppArmor exec attribute");
	char buf[1100];
	int n = snprintf(buf, sizeof(buf), "exec %s", profile);
	if (n >= (int)sizeof(buf)) {
		close(fd);
		return crl_error_set(err, EINVAL, "process.apparmorProfile is too long");
	}
	r = write(fd, buf, (size_t)n) == n ? 0 : crl_error_set_errno(err, errno, "AppArmor profile '%s'", profile);
	close(fd);
	return r;
}

int rt_apply_oom_score_adj(int value, bool *ret_clamped, crl_error_t *err)
{
	*ret_clamped = false;
	_cleanup_close_ int fd = open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return crl_error_set_errno(err, errno, "open /proc/self/oom_score_adj");
	char buf[16];
	int n = snprintf(buf, sizeof(buf), "%d", value);
	if (write(fd, buf, (size_t)n) == n)
		return 0;
	if (errno != EACCES && errno != EPERM)
		return crl_error_set_errno(err, errno, "set oom_score_adj %d", value);
	/* Lowering needs CAP_SYS_RESOURCE: keep the current (higher) value, as a node without it would. */
	*ret_clamped = true;
	return 0;
}

int rt_apply_rlimits(const rt_spec_t *s, crl_error_t *err)
{
	for (size_t i = 0; i < s->n_rlimits; i++) {
		struct rlimit want = { s->rlimits[i].soft, s->rlimits[i].hard }, cur;
		if (setrlimit(s->rlimits[i].resource, &want) == 0)
			continue;
		if (errno != EPERM || getrlimit(s->rlimits[i].resource, &cur) < 0)
			return crl_error_set_errno(err, errno, "setrlimit %d", s->rlimits[i].resource);
		/* Raising the hard limit needs CAP_SYS_RESOURCE: clamp to what we may have. */
		if (want.rlim_max > cur.rlim_max)
			want.rlim_max = cur.rlim_max;
		if (want.rlim_cur > want.rlim_max)
			want.rlim_cur = want.rlim_max;
		if (setrlimit(s->rlimits[i].resource, &want) < 0)
			return crl_error_set_errno(err, errno, "setrlimit %d", s->rlimits[i].resource);
	}
	return 0;
}

static int capset_sets(uint64_t eff, uint64_t perm, uint64_t inh)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = {
		{ (uint32_t)eff, (uint32_t)perm, (uint32_t)inh },
		{ (uint32_t)(eff >> 32), (uint32_t)(perm >> 32), (uint32_t)(inh >> 32) },
	};
	return (int)syscall(SYS_capset, &h, d);
}

int rt_apply_user_and_caps(const rt_spec_t *s, crl_error_t *err)
{
	uint64_t all = (1ULL << (LAST_CAP + 1)) - 1;
	uint64_t bounding = s->has_caps ? s->caps[RT_CAP_BOUNDING] : all;
	for (int c = 0; c <= LAST_CAP; c++)
		if (!(bounding & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return crl_error_set_errno(err, errno, "drop capability %d from the bounding set", c);
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return crl_error_set_errno(err, errno, "PR_SET_KEEPCAPS");
	if (setgroups(s->n_additional_gids, (const gid_t *)s->additional_gids) < 0)
		return crl_error_set_errno(err, errno, "setgroups");
	if (setresgid(s->gid, s->gid, s->gid) < 0)
		return crl_error_set_errno(err, errno, "setgid %u", s->gid);
	if (setresuid(s->uid, s->uid, s->uid) < 0)
		return crl_error_set_errno(err, errno, "setuid %u", s->uid);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return crl_error_set_errno(err, errno, "PR_SET_KEEPCAPS");
	uint64_t eff = s->has_caps ? s->caps[RT_CAP_EFFECTIVE] : (s->uid == 0 ? all : 0);
	uint64_t perm = s->has_caps ? s->caps[RT_CAP_PERMITTED] : (s->uid == 0 ? all : 0);
	uint64_t inh = s->has_caps ? s->caps[RT_CAP_INHERITABLE] : 0;
	/* Ambient capabilities must be permitted and inheritable to be raised. */
	uint64_t amb = s->has_caps ? s->caps[RT_CAP_AMBIENT] : 0;
	/* Nobody can grant what it does not hold (root here lacks CAP_SYS_RESOURCE, as on some nodes). */
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct cur[2];
	if (syscall(SYS_capget, &h, cur) < 0)
		return crl_error_set_errno(err, errno, "capget");
	uint64_t held = (uint64_t)cur[0].permitted | (uint64_t)cur[1].permitted << 32;
	eff &= held;
	perm &= held;
	inh &= held;
	amb &= held;
	if (capset_sets(eff, perm, inh | amb) < 0)
		return crl_error_set_errno(err, errno, "capset");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return crl_error_set_errno(err, errno, "clear ambient capabilities");
	for (int c = 0; c <= LAST_CAP; c++)
		if ((amb & (1ULL << c)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
			return crl_error_set_errno(err, errno, "raise ambient capability %d", c);
	return 0;
}

int rt_apply_no_new_privs(crl_error_t *err)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return crl_error_set_errno(err, errno, "no_new_privs");
	return 0;
}

/* What the default profile denies, and the capability that gives each back (-1: never). */
static const struct {
	const char *name;
	int cap;
} denied[] = {
	{ "acct", 20 /* CAP_SYS_PACCT */ }, { "add_key", -1 }, { "bpf", 21 /* CAP_SYS_ADMIN */ },
	{ "clock_adjtime", 25 /* CAP_SYS_TIME */ }, { "clock_settime", 25 }, { "settimeofday", 25 }, { "stime", 25 },
	{ "adjtimex", 25 }, { "create_module", 16 /* CAP_SYS_MODULE */ }, { "delete_module", 16 }, { "finit_module", 16 },
	{ "init_module", 16 }, { "get_kernel_syms", -1 }, { "query_module", -1 }, { "get_mempolicy", 23 /* CAP_SYS_NICE */ },
	{ "mbind", 23 }, { "set_mempolicy", 23 }, { "move_pages", 23 }, { "ioperm", 17 /* CAP_SYS_RAWIO */ },
	{ "iopl", 17 }, { "kcmp", 19 /* CAP_SYS_PTRACE */ }, { "ptrace", 19 }, { "process_vm_readv", 19 },
	{ "process_vm_writev", 19 }, { "kexec_file_load", 22 /* CAP_SYS_BOOT */ }, { "kexec_load", 22 }, { "reboot", 22 },
	{ "keyctl", -1 }, { "request_key", -1 }, { "lookup_dcookie", 21 }, { "mount", 21 }, { "umount", 21 },
	{ "umount2", 21 }, { "pivot_root", 21 }, { "unshare", 21 }, { "setns", 21 }, { "fsopen", 21 }, { "fsconfig", 21 },
	{ "fsmount", 21 }, { "fspick", 21 }, { "move_mount", 21 }, { "open_tree", 21 }, { "mount_setattr", 21 },
	{ "quotactl", 21 }, { "swapon", 21 }, { "swapoff", 21 }, { "sethostname", 21 }, { "setdomainname", 21 },
	{ "name_to_handle_at", 2 /* CAP_DAC_READ_SEARCH */ }, { "open_by_handle_at", 2 }, { "nfsservctl", -1 },
	{ "perf_event_open", 21 }, { "syslog", 34 /* CAP_SYSLOG */ }, { "uselib", -1 }, { "userfaultfd", -1 },
	{ "ustat", -1 }, { "sysfs", -1 }, { "_sysctl", -1 }, { "vm86", -1 }, { "vm86old", -1 }, { "io_uring_setup", -1 },
	{ "io_uring_enter", -1 }, { "io_uring_register", -1 }, { "fanotify_init", 21 }, { "lookup_dcookie", 21 },
	{ "personality", -1 }, { "clone", -1 }, { "clone3", -1 }, { "socket", -1 }, /* conditional rules below */
};

static bool is_denied(const char *name, uint64_t bounding)
{
	for (size_t i = 0; i < CRL_ARRAY_SIZE(denied); i++)
		if (strcmp(denied[i].name, name) == 0)
			return denied[i].cap < 0 || !(bounding & (1ULL << denied[i].cap));
	return false;
}

static int add_rule(rt_seccomp_t *sc, const char *name, uint32_t action, const rt_seccomp_arg_t *args, size_t n_args)
{
	rt_seccomp_rule_t *r = &sc->rules[sc->n_rules];
	r->names = calloc(2, sizeof(char *));
	r->args = calloc(n_args ? n_args : 1, sizeof(*r->args));
	if (!r->names || !r->args || !(r->names[0] = strdup(name))) {
		free(r->names);
		free(r->args);
		return -ENOMEM;
	}
	if (n_args)
		memcpy(r->args, args, n_args * sizeof(*args));
	r->n_args = n_args;
	r->action = action;
	sc->n_rules++;
	return 0;
}

int rt_seccomp_runtime_default(uint64_t bounding, rt_seccomp_t **ret, crl_error_t *err)
{
	enum { MAX_NR = 1024 };
	rt_seccomp_t *sc = calloc(1, sizeof(*sc));
	if (!sc || !(sc->rules = calloc(MAX_NR + 16, sizeof(*sc->rules)))) {
		free(sc);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	sc->default_action = SCMP_ACT_ERRNO(EPERM);
	int r = 0;
	/* Every syscall of this architecture that libseccomp can name and the profile does not deny. */
	for (int nr = 0; nr < MAX_NR && r == 0; nr++) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
		if (!name)
			continue;
		if (!is_denied(name, bounding))
			r = add_rule(sc, name, SCMP_ACT_ALLOW, NULL, 0);
		free(name);
	}
	bool admin = bounding & (1ULL << 21);
	const uint64_t ns_flags = 0x7E020000ULL; /* CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET */
	if (r == 0 && admin) {
		r = add_rule(sc, "clone", SCMP_ACT_ALLOW, NULL, 0);
		if (r == 0)
			r = add_rule(sc, "clone3", SCMP_ACT_ALLOW, NULL, 0);
	} else if (r == 0) {
		/* x86_64 passes the flags first. */
		/* (flags & ns_flags) == 0 */
		rt_seccomp_arg_t a = { 0, ns_flags, 0, SCMP_CMP_MASKED_EQ };
		r = add_rule(sc, "clone", SCMP_ACT_ALLOW, &a, 1);
		if (r == 0)
			r = add_rule(sc, "clone3", SCMP_ACT_ERRNO(ENOSYS), NULL, 0);
	}
	static const uint64_t personas[] = { 0x0, 0x8, 0x20000, 0x20008, 0xffffffff };
	for (size_t i = 0; r == 0 && i < CRL_ARRAY_SIZE(personas); i++) {
		rt_seccomp_arg_t a = { 0, personas[i], 0, SCMP_CMP_EQ };
		r = add_rule(sc, "personality", SCMP_ACT_ALLOW, &a, 1);
	}
	if (r == 0) {
		rt_seccomp_arg_t a = { 0, 40 /* AF_VSOCK */, 0, SCMP_CMP_NE };
		r = add_rule(sc, "socket", SCMP_ACT_ALLOW, &a, 1);
	}
	if (r < 0) {
		for (size_t i = 0; i < sc->n_rules; i++) {
			crl_strv_free(sc->rules[i].names);
			free(sc->rules[i].args);
		}
		free(sc->rules);
		free(sc);
		return crl_error_set(err, ENOMEM, "out of memory");
	}
	*ret = sc;
	return 0;
}

int rt_apply_seccomp(const rt_seccomp_t *sc, crl_error_t *err)
{
	scmp_filter_ctx ctx = seccomp_init(sc->default_action);
	if (!ctx)
		return crl_error_set(err, EINVAL, "seccomp: cannot create a filter");
	int r = 0;
	/* no_new_privs is the spec's business, not libseccomp's. */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	for (char **a = sc->architectures; a && *a && r == 0; a++) {
		const char *name = *a;
		if (strncmp(name, "SCMP_ARCH_", 10) == 0)
			name += 10;
		char lower[32];
		size_t i = 0;
		for (; name[i] && i < sizeof(lower) - 1; i++)
			lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
		lower[i] = '\0';
		uint32_t arch = seccomp_arch_resolve_name(lower);
		if (arch == 0)
			continue; /* an architecture this libseccomp does not know cannot run here either */
		int e = seccomp_arch_add(ctx, arch);
		if (e < 0 && e != -EEXIST)
			r = crl_error_set(err, -e, "seccomp: add architecture %s", *a);
	}
	for (size_t i = 0; r == 0 && i < sc->n_rules; i++) {
		const rt_seccomp_rule_t *rule = &sc->rules[i];
		if (rule->action == sc->default_action)
			continue;
		struct scmp_arg_cmp cmp[6];
		for (size_t k = 0; k < rule->n_args; k++)
			cmp[k] = (struct scmp_arg_cmp){ rule->args[k].index, (enum scmp_compare)rule->args[k].op,
							rule->args[k].value, rule->args[k].value_two };
		for (char **n = rule->names; *n && r == 0; n++) {
			int nr = seccomp_syscall_resolve_name(*n);
			if (nr == __NR_SCMP_ERROR)
				continue; /* not a syscall of this architecture */
			int e = seccomp_rule_add_array(ctx, rule->action, nr, (unsigned)rule->n_args, cmp);
			if (e < 0)
				r = crl_error_set(err, -e, "seccomp: rule for %s", *n);
		}
	}
	if (r == 0) {
		int e = seccomp_load(ctx);
		if (e < 0)
			r = crl_error_set(err, -e, "seccomp: load the filter");
	}
	seccomp_release(ctx);
	return r;
}
