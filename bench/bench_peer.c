/* SPDX-License-Identifier: Apache-2.0 */
#include "bench_peer.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api.pb-c.h"
#include "common/fs.h"
#include "harness.h"

#define CONTAINERD "/usr/bin/containerd"

static bool write_in(const char *dir, const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "we");
	if (!f)
		return false;
	bool ok = fputs(text, f) >= 0;
	return fclose(f) == 0 && ok;
}

static void remove_dir(bench_peer_t *p)
{
	crl_error_t e = CRL_ERROR_INIT;
	crl_fs_rm_rf(p->dir, &e);
	crl_error_clear(&e);
}

bool bench_containerd_start(bench_peer_t *p, int reg_port)
{
	memset(p, 0, sizeof(*p));
	if (access(CONTAINERD, X_OK) != 0)
		return false;
	snprintf(p->dir, sizeof(p->dir), "/tmp/crl-peer-XXXXXX");
	if (!mkdtemp(p->dir))
		return false;
	snprintf(p->sock, sizeof(p->sock), "%s/containerd.sock", p->dir);
	char conf[2048], hosts[512], sub[160];
	snprintf(conf, sizeof(conf),
		 "version = 2\nroot = \"%s/root\"\nstate = \"%s/state\"\n"
		 "disabled_plugins = [\"io.containerd.snapshotter.v1.btrfs\", \"io.containerd.snapshotter.v1.zfs\", "
		 "\"io.containerd.snapshotter.v1.devmapper\", \"io.containerd.snapshotter.v1.aufs\"]\n"
		 "[grpc]\n  address = \"%s\"\n[ttrpc]\n  address = \"%s.ttrpc\"\n"
		 "[plugins.\"io.containerd.grpc.v1.cri\"]\n  stream_server_address = \"127.0.0.1\"\n"
		 "  stream_server_port = \"0\"\n"
		 "  [plugins.\"io.containerd.grpc.v1.cri\".cni]\n    bin_dir = \"/usr/lib/cni\"\n"
		 "    conf_dir = \"%s/net.d\"\n"
		 "  [plugins.\"io.containerd.grpc.v1.cri\".registry]\n    config_path = \"%s/certs.d\"\n",
		 p->dir, p->dir, p->sock, p->sock, p->dir, p->dir);
	snprintf(hosts, sizeof(hosts),
		 "server = \"http://127.0.0.1:%d\"\n[host.\"http://127.0.0.1:%d\"]\n  capabilities = [\"pull\", \"resolve\"]\n",
		 reg_port, reg_port);
	snprintf(sub, sizeof(sub), "%s/certs.d/127.0.0.1:%d", p->dir, reg_port);
	crl_error_t e = CRL_ERROR_INIT;
	if (!write_in(p->dir, "config.toml", conf) || crl_fs_mkdir_p(sub, 0755, &e) < 0 ||
	    !write_in(sub, "hosts.toml", hosts)) {
		crl_error_clear(&e);
		remove_dir(p);
		return false;
	}
	char cfg_path[128], log_path[128];
	snprintf(cfg_path, sizeof(cfg_path), "%s/config.toml", p->dir);
	snprintf(log_path, sizeof(log_path), "%s/containerd.log", p->dir);
	pid_t pid = fork();
	if (pid < 0) {
		remove_dir(p);
		return false;
	}
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execl(CONTAINERD, CONTAINERD, "--config", cfg_path, (char *)NULL);
		_exit(127);
	}
	p->pid = pid;
	/* Up when its CRI answers Version. */
	for (int i = 0; i < 300; i++) {
		struct stat st;
		if (stat(p->sock, &st) == 0) {
			if (!p->client)
				p->client = cri_client_new(p->sock);
			Runtime__V1__VersionRequest req = RUNTIME__V1__VERSION_REQUEST__INIT;
			cri_result_t r;
			if (cri_call(p->client, "/runtime.v1.RuntimeService/Version", &req.base, NULL, 2000, &r) == 0 &&
			    r.code == 0) {
				cri_result_clear(&r);
				return true;
			}
			cri_result_clear(&r);
		}
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			p->pid = 0;
			break;
		}
		usleep(100 * 1000);
	}
	fprintf(stderr, "containerd did not come up; see %s\n", log_path);
	bench_containerd_stop(p);
	return false;
}

void bench_containerd_stop(bench_peer_t *p)
{
	if (p->client)
		cri_client_free(p->client);
	p->client = NULL;
	if (p->pid > 0) {
		kill(p->pid, SIGTERM);
		int i = 0;
		while (waitpid(p->pid, NULL, WNOHANG) == 0 && ++i < 1500)
			usleep(10 * 1000);
		if (i == 1500) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, NULL, 0);
		}
		p->pid = 0;
	}
	if (*p->dir)
		remove_dir(p);
	*p->dir = '\0';
}
