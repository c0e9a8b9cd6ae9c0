/* SPDX-License-Identifier: Apache-2.0 */
#include "devices.h"

#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RWM (RT_DEV_MKNOD | RT_DEV_READ | RT_DEV_WRITE)

static const rt_dev_rule_t defaults[] = {
	{ true, 'c', -1, -1, RT_DEV_MKNOD }, { true, 'b', -1, -1, RT_DEV_MKNOD },
	{ true, 'c', 1, 3, RWM },            { true, 'c', 1, 5, RWM },  { true, 'c', 1, 7, RWM },
	{ true, 'c', 1, 8, RWM },            { true, 'c', 1, 9, RWM },  { true, 'c', 5, 0, RWM },
	{ true, 'c', 5, 1, RWM },            { true, 'c', 5, 2, RWM },  { true, 'c', 136, -1, RWM },
	{ true, 'c', 10, 200, RWM },
};

int rt_devices_rules(const rt_resources_t *res, rt_dev_rule_t **ret, size_t *ret_n, crl_error_t *err)
{
	size_t nd = sizeof(defaults) / sizeof(defaults[0]);
	rt_dev_rule_t *r = calloc(res->n_devices + nd, sizeof(*r));
	if (!r)
		return crl_error_set(err, ENOMEM, "out of memory");
	if (res->n_devices)
		memcpy(r, res->devices, res->n_devices * sizeof(*r));
	memcpy(r + res->n_devices, defaults, sizeof(defaults));
	*ret = r;
	*ret_n = res->n_devices + nd;
	return 0;
}

static void num(char *buf, size_t n, int64_t v)
{
	if (v < 0)
		snprintf(buf, n, "*");
	else
		snprintf(buf, n, "%lld", (long long)v);
}

int rt_devices_v1(const rt_dev_rule_t *rules, size_t n, int (*emit)(void *ctx, bool allow, const char *line), void *ctx)
{
	for (size_t i = 0; i < n; i++) {
		const rt_dev_rule_t *r = &rules[i];
		int rc;
		/* v1 reads any "a" line as "every device, every access": only an all-rule may be written as one. */
		if (r->type == 'a' && r->major < 0 && r->minor < 0 && r->access == RWM) {
			if ((rc = emit(ctx, r->allow, "a")) < 0)
				return rc;
			continue;
		}
		char mj[24], mn[24], acc[4] = "", line[64];
		num(mj, sizeof(mj), r->major);
		num(mn, sizeof(mn), r->minor);
		size_t k = 0;
		if (r->access & RT_DEV_READ)
			acc[k++] = 'r';
		if (r->access & RT_DEV_WRITE)
			acc[k++] = 'w';
		if (r->access & RT_DEV_MKNOD)
			acc[k++] = 'm';
		acc[k] = '\0';
		if (!k)
			continue; /* no access: matches nothing */
		for (const char *t = r->type == 'a' ? "cb" : (r->type == 'c' ? "c" : "b"); *t; t++) {
			snprintf(line, sizeof(line), "%c %s:%s %s", *t, mj, mn, acc);
			if ((rc = emit(ctx, r->allow, line)) < 0)
				return rc;
		}
	}
	return 0;
}

/* --- the BPF program --- */

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
	struct bpf_insn i = { .code = code, .dst_reg = dst & 0xf, .src_reg = src & 0xf, .off = off, .imm = imm };
	return i;
}

#define LDX_W(dst, src, off) insn(BPF_LDX | BPF_W | BPF_MEM, dst, src, off, 0)
#define MOV32_REG(dst, src) insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0)
#define ALU32_IMM(op, dst, imm) insn(BPF_ALU | (op) | BPF_K, dst, 0, 0, imm)
#define JMP32_IMM(op, dst, imm, off) insn(BPF_JMP32 | (op) | BPF_K, dst, 0, off, imm)
#define MOV64_IMM(dst, imm) insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm)
#define EXIT() insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* Registers: r2 the access asked for (BPF_DEVCG_ACC_*), r3 the device type (BPF_DEVCG_DEV_*), r4 major, r5
 * minor, r6 scratch. Our RT_DEV_* bits are the kernel's BPF_DEVCG_ACC_* bits. */
_Static_assert((int)RT_DEV_MKNOD == (int)BPF_DEVCG_ACC_MKNOD && (int)RT_DEV_READ == (int)BPF_DEVCG_ACC_READ &&
		       (int)RT_DEV_WRITE == (int)BPF_DEVCG_ACC_WRITE,
	       "access bits");

static size_t compile(const rt_dev_rule_t *rules, size_t n, struct bpf_insn *p)
{
	size_t k = 0;
	p[k++] = LDX_W(2, 1, 0); /* access_type: access << 16 | type */
	p[k++] = MOV32_REG(3, 2);
	p[k++] = ALU32_IMM(BPF_AND, 3, 0xffff);
	p[k++] = ALU32_IMM(BPF_RSH, 2, 16);
	p[k++] = LDX_W(4, 1, 4);
	p[k++] = LDX_W(5, 1, 8);
	/* Last rule first: the first block that matches returns. */
	for (size_t i = n; i-- > 0;) {
		const rt_dev_rule_t *r = &rules[i];
		if (!(r->access & RWM))
			continue;
		struct bpf_insn b[10];
		size_t m = 0;
		int skips[10], ns = 0; /* jumps to the block's end */
		if (r->type != 'a') {
			skips[ns++] = (int)m;
			b[m++] = JMP32_IMM(BPF_JNE, 3, r->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK, 0);
		}
		if (r->major >= 0) {
			skips[ns++] = (int)m;
			b[m++] = JMP32_IMM(BPF_JNE, 4, (int32_t)(uint32_t)r->major, 0);
		}
		if (r->minor >= 0) {
			skips[ns++] = (int)m;
			b[m++] = JMP32_IMM(BPF_JNE, 5, (int32_t)(uint32_t)r->minor, 0);
		}
		if ((r->access & RWM) != RWM || !r->allow) {
			b[m++] = MOV32_REG(6, 2);
			if (r->allow) {
				/* Allowed only when everything asked for is in the rule. */
				b[m++] = ALU32_IMM(BPF_AND, 6, (int32_t)(~r->access & RWM));
				skips[ns++] = (int)m;
				b[m++] = JMP32_IMM(BPF_JNE, 6, 0, 0);
			} else {
				/* Denied when anything asked for is in the rule. */
				b[m++] = ALU32_IMM(BPF_AND, 6, (int32_t)(r->access & RWM));
				skips[ns++] = (int)m;
				b[m++] = JMP32_IMM(BPF_JEQ, 6, 0, 0);
			}
		}
		b[m++] = MOV64_IMM(0, r->allow ? 1 : 0);
		b[m++] = EXIT();
		for (int s = 0; s < ns; s++)
			b[skips[s]].off = (int16_t)(m - (size_t)skips[s] - 1);
		memcpy(p + k, b, m * sizeof(*b));
		k += m;
	}
	p[k++] = MOV64_IMM(0, 0);
	p[k++] = EXIT();
	return k;
}

static long sys_bpf(int cmd, union bpf_attr *a)
{
	return syscall(SYS_bpf, cmd, a, sizeof(*a));
}

int rt_devices_bpf_attach(int cgfd, const rt_dev_rule_t *rules, size_t n, crl_error_t *err)
{
	if (n > 4 * RT_MAX_DEVICES)
		return crl_error_set(err, EINVAL, "too many device rules (%zu)", n);
	struct bpf_insn *prog = calloc(8 + n * 10, sizeof(*prog));
	if (!prog)
		return crl_error_set(err, ENOMEM, "out of memory");
	size_t len = compile(rules, n, prog);
	char log[4096];
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	a.insns = (uint64_t)(uintptr_t)prog;
	a.insn_cnt = (uint32_t)len;
	a.license = (uint64_t)(uintptr_t) "Apache-2.0";
	int pfd = (int)sys_bpf(BPF_PROG_LOAD, &a);
	if (pfd < 0) {
		int e = errno;
		/* Again with the verifier's log, for the message. */
		a.log_buf = (uint64_t)(uintptr_t)log;
		a.log_size = sizeof(log);
		a.log_level = 1;
		log[0] = '\0';
		int p2 = (int)sys_bpf(BPF_PROG_LOAD, &a);
		if (p2 >= 0)
			close(p2);
		free(prog);
		char *nl = strrchr(log, '\n');
		if (nl && nl[1] == '\0')
			*nl = '\0';
		return crl_error_set_errno(err, e, "load the device cgroup program%s%.200s", log[0] ? ": " : "",
					   strrchr(log, '\n') ? strrchr(log, '\n') + 1 : log);
	}
	free(prog);
	memset(&a, 0, sizeof(a));
	a.target_fd = (uint32_t)cgfd;
	a.attach_bpf_fd = (uint32_t)pfd;
	a.attach_type = BPF_CGROUP_DEVICE;
	a.attach_flags = BPF_F_ALLOW_MULTI;
	int r = sys_bpf(BPF_PROG_ATTACH, &a) < 0 ? crl_error_set_errno(err, errno, "attach the device cgroup program") : 0;
	close(pfd); /* the cgroup holds it now */
	return r;
}

int rt_devices_bpf_count(int cgfd, uint32_t *ret, crl_error_t *err)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.query.target_fd = (uint32_t)cgfd;
	a.query.attach_type = BPF_CGROUP_DEVICE;
	if (sys_bpf(BPF_PROG_QUERY, &a) < 0)
		return crl_error_set_errno(err, errno, "query the device cgroup programs");
	*ret = a.query.prog_cnt;
	return 0;
}
