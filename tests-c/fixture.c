/* fixture.c - start/stop the Python fixture servers for C tests. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pipe2 */
#endif
#include "fixture.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FIXTURE_MAX_ARGS 128

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static const char *python(void)
{
	const char *p = getenv("PO_FIXTURE_PYTHON");
	return p && *p ? p : "/usr/bin/python3";
}

static const char *fixtures_dir(void)
{
	const char *p = getenv("PO_FIXTURE_DIR");
	return p && *p ? p : "fixtures";
}

static int rm_entry(const char *path, const struct stat *sb, int type,
		    struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static void rm_rf(const char *dir)
{
	if (dir[0])
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int make_temp_dir(char *buf, size_t n, const char *prefix)
{
	const char *tmp = getenv("TMPDIR");
	if (!tmp || !*tmp)
		tmp = "/tmp";
	if ((size_t)snprintf(buf, n, "%s/%s-XXXXXX", tmp, prefix) >= n) {
		fprintf(stderr, "fixture: temp dir name too long\n");
		return -1;
	}
	if (!mkdtemp(buf)) {
		fprintf(stderr, "fixture: mkdtemp %s: %s\n", buf,
			strerror(errno));
		buf[0] = '\0';
		return -1;
	}
	return 0;
}

/* Wait for pid, at most timeout_ms. Returns 1 when reaped (*status set). */
static int wait_pid(pid_t pid, int timeout_ms, int *status)
{
	long long end = now_ms() + timeout_ms;
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid || (r == -1 && errno != EINTR))
			return 1;
		if (now_ms() >= end)
			return 0;
		sleep_ms(5);
	}
}

/* ---- certificates ------------------------------------------------------ */

static char certs_dir[256];
static pid_t certs_owner;

static void certs_cleanup(void)
{
	if (certs_dir[0] && getpid() == certs_owner && !getenv("PO_FIXTURE_KEEP"))
		rm_rf(certs_dir);
}

int fixture_certs(char *dir_out, size_t n)
{
	if (!certs_dir[0]) {
		char dir[256], script[512];
		int status;
		pid_t pid;

		if (make_temp_dir(dir, sizeof dir, "po-certs") != 0)
			return -1;
		snprintf(script, sizeof script, "%s/certs.sh", fixtures_dir());
		pid = fork();
		if (pid == -1) {
			fprintf(stderr, "fixture: fork: %s\n", strerror(errno));
			rm_rf(dir);
			return -1;
		}
		if (pid == 0) {
			execl("/bin/sh", "sh", script, dir, (char *)NULL);
			_exit(127);
		}
		if (!wait_pid(pid, 60000, &status)) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fprintf(stderr, "fixture: %s timed out\n", script);
			rm_rf(dir);
			return -1;
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "fixture: %s %s failed (status %d)\n",
				script, dir, status);
			rm_rf(dir);
			return -1;
		}
		memcpy(certs_dir, dir, sizeof certs_dir);
		certs_owner = getpid();
		atexit(certs_cleanup);
	}
	if (strlen(certs_dir) + 1 > n) {
		fprintf(stderr, "fixture_certs: buffer too small\n");
		return -1;
	}
	memcpy(dir_out, certs_dir, strlen(certs_dir) + 1);
	return 0;
}

/* ---- servers ----------------------------------------------------------- */

int fixture_start(fixture *f, const char *script, const char *const *args)
{
	char path[512];
	const char *argv[FIXTURE_MAX_ARGS + 8];
	int in[2] = { -1, -1 }, out[2] = { -1, -1 };
	char line[128];
	size_t got = 0;
	int argc = 0, status;
	long long end;
	pid_t pid;

	memset(f, 0, sizeof *f);
	f->stdin_fd = -1;
	snprintf(path, sizeof path, "%s/%s.py", fixtures_dir(), script);
	if (make_temp_dir(f->dir, sizeof f->dir, "po-fixture") != 0)
		return -1;

	argv[argc++] = python();
	argv[argc++] = path;
	argv[argc++] = "--dir";
	argv[argc++] = f->dir;
	argv[argc++] = "--port";
	argv[argc++] = "0";
	for (int i = 0; args && args[i]; i++) {
		if (argc >= FIXTURE_MAX_ARGS) {
			fprintf(stderr, "fixture_start: too many arguments\n");
			goto fail;
		}
		argv[argc++] = args[i];
	}
	argv[argc] = NULL;

	/* O_CLOEXEC: no other child (another server, a helper) may inherit
	 * the write end, or the server would never see EOF. */
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) {
		fprintf(stderr, "fixture_start: pipe: %s\n", strerror(errno));
		goto fail;
	}
	pid = fork();
	if (pid == -1) {
		fprintf(stderr, "fixture_start: fork: %s\n", strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		/* dup2 clears FD_CLOEXEC on the copies. */
		if (dup2(in[0], 0) == -1 || dup2(out[1], 1) == -1)
			_exit(127);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	in[0] = out[1] = -1;
	f->pid = pid;
	f->stdin_fd = in[1];
	in[1] = -1;

	/* Read "READY <port>\n" within 10 s. */
	end = now_ms() + 10000;
	for (;;) {
		struct pollfd pfd = { out[0], POLLIN, 0 };
		long long left = end - now_ms();
		ssize_t r;
		char *nl;

		if (left <= 0) {
			fprintf(stderr, "fixture_start: %s: no READY in 10 s\n",
				script);
			goto fail_running;
		}
		r = poll(&pfd, 1, (int)left);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		r = read(out[0], line + got, sizeof line - 1 - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr, "fixture_start: %s exited before "
				"READY\n", script);
			goto fail_running;
		}
		got += (size_t)r;
		line[got] = '\0';
		nl = strchr(line, '\n');
		if (nl) {
			int port;
			*nl = '\0';
			if (sscanf(line, "READY %d", &port) != 1 || port <= 0 ||
			    port > 65535) {
				fprintf(stderr, "fixture_start: %s said '%s'\n",
					script, line);
				goto fail_running;
			}
			f->port = port;
			break;
		}
		if (got >= sizeof line - 1) {
			fprintf(stderr, "fixture_start: %s: bad output\n",
				script);
			goto fail_running;
		}
	}
	close(out[0]);
	return 0;

fail_running:
	close(f->stdin_fd);
	f->stdin_fd = -1;
	kill(f->pid, SIGTERM);
	if (!wait_pid(f->pid, 5000, &status)) {
		kill(f->pid, SIGKILL);
		waitpid(f->pid, &status, 0);
	}
	f->pid = 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (in[i] != -1)
			close(in[i]);
		if (out[i] != -1)
			close(out[i]);
	}
	rm_rf(f->dir);
	f->dir[0] = '\0';
	return -1;
}

void fixture_stop(fixture *f)
{
	int status;

	if (f->stdin_fd >= 0) {
		close(f->stdin_fd);
		f->stdin_fd = -1;
	}
	if (f->pid > 0) {
		kill(f->pid, SIGTERM);
		if (!wait_pid(f->pid, 5000, &status)) {
			fprintf(stderr, "fixture_stop: pid %d did not exit, "
				"killing it\n", (int)f->pid);
			kill(f->pid, SIGKILL);
			waitpid(f->pid, &status, 0);
		}
		f->pid = 0;
	}
	if (f->dir[0]) {
		if (getenv("PO_FIXTURE_KEEP"))
			fprintf(stderr, "fixture: kept %s\n", f->dir);
		else
			rm_rf(f->dir);
		f->dir[0] = '\0';
	}
}

static int count_messages(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] != '.' && len > 5 &&
		    strcmp(e->d_name + len - 5, ".json") == 0)
			n++;
	}
	closedir(d);
	return n;
}

int fixture_wait_messages(fixture *f, int count, int timeout_ms)
{
	long long end = now_ms() + timeout_ms;
	char last[512];
	struct stat st;

	/* Messages are numbered from 1 and each .json appears last, so a
	 * cheap stat of the count-th one says when a (costly, with thousands
	 * of files) directory count is worth doing. */
	snprintf(last, sizeof last, "%s/%04d.json", f->dir, count);
	for (;;) {
		if (count <= 0 || stat(last, &st) == 0) {
			int n = count_messages(f->dir);
			if (n >= count)
				return n;
		}
		if (now_ms() >= end)
			return count_messages(f->dir);
		sleep_ms(2);
	}
}

char *fixture_read(fixture *f, const char *name, size_t *len)
{
	char path[512];
	char *buf = NULL;
	size_t size = 0, cap = 0;
	int fd;

	if ((size_t)snprintf(path, sizeof path, "%s/%s", f->dir, name) >=
	    sizeof path)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return NULL;
	for (;;) {
		ssize_t r;
		if (cap - size < 4096) {
			char *nb;
			cap = cap ? cap * 2 : 8192;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				close(fd);
				return NULL;
			}
			buf = nb;
		}
		r = read(fd, buf + size, cap - size - 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			free(buf);
			close(fd);
			return NULL;
		}
		if (r == 0)
			break;
		size += (size_t)r;
	}
	close(fd);
	buf[size] = '\0';
	if (len)
		*len = size;
	return buf;
}

static int transcript_ended(const char *t, size_t len)
{
	return len >= 6 && strcmp(t + len - 6, "* end\n") == 0;
}

char *fixture_transcript_wait(fixture *f, int conn, int timeout_ms)
{
	char name[64];
	long long end = now_ms() + timeout_ms;

	snprintf(name, sizeof name, "conn-%d.log", conn);
	for (;;) {
		size_t len = 0;
		char *t = fixture_read(f, name, &len);
		if (t && transcript_ended(t, len))
			return t;
		if (now_ms() >= end)
			return t;
		free(t);
		sleep_ms(5);
	}
}

char *fixture_transcript(fixture *f, int conn)
{
	return fixture_transcript_wait(f, conn, 3000);
}
