/*
 * state_dir/tollgate.pid: one line with the master's pid. A pid counts only
 * while /proc says it is a live tollgate-master (the name the master gives
 * itself with PR_SET_NAME).
 */
#include "tg_pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MASTER_NAME "tollgate-master"

static void
pid_path(const char *state_dir, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", state_dir, TG_PIDFILE_NAME);
}

/* The pid in the file: > 0, 0 when there is no file, -1 when it is unreadable or garbled. */
static pid_t
read_pid(const char *path, char *why, size_t whylen)
{
	char buf[32];
	ssize_t n;
	long v;
	char *end;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd == -1 && errno == ENOENT)
		return 0;
	if (fd == -1) {
		snprintf(why, whylen, "could not open %s: %s", path, strerror(errno));
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		/* an empty file is a master killed while writing it: nobody runs */
		if (n == 0)
			return 0;
		snprintf(why, whylen, "could not read %s: %s", path, strerror(errno));
		return -1;
	}
	buf[n] = '\0';
	v = strtol(buf, &end, 10);
	if (v <= 0 || v > INT_MAX || (*end != '\n' && *end != '\0')) {
		snprintf(why, whylen, "%s does not hold a pid", path);
		return -1;
	}
	return (pid_t)v;
}

/* Whether pid is a live process that calls itself tollgate-master. */
static bool
is_master(pid_t pid)
{
	char path[64], comm[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return false;
	if (fgets(comm, sizeof(comm), f) == NULL)
		comm[0] = '\0';
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	return strcmp(comm, MASTER_NAME) == 0;
}

pid_t
tg_pidfile_master(const char *state_dir, char *why, size_t whylen)
{
	char path[PATH_MAX + 32];
	pid_t pid;

	pid_path(state_dir, path, sizeof(path));
	pid = read_pid(path, why, whylen);
	if (pid <= 0)
		return pid;
	return is_master(pid) ? pid : 0;
}

int
tg_pidfile_write(const char *state_dir, char *why, size_t whylen)
{
	char path[PATH_MAX + 32], tmp[PATH_MAX + 40], line[32];
	pid_t other = tg_pidfile_master(state_dir, why, whylen);
	int fd, n;

	if (other > 0 && other != getpid()) {
		snprintf(why, whylen, "another tollgate (pid %d) runs with state_dir %s",
			 (int)other, state_dir);
		return -1;
	}
	pid_path(state_dir, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	n = snprintf(line, sizeof(line), "%d\n", (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd == -1) {
		snprintf(why, whylen, "could not write %s: %s", tmp, strerror(errno));
		return -1;
	}
	if (write(fd, line, (size_t)n) != n) {
		snprintf(why, whylen, "could not write %s: %s", tmp, strerror(errno));
		close(fd);
		goto fail;
	}
	if (close(fd) == -1 || rename(tmp, path) == -1) {
		snprintf(why, whylen, "could not write %s: %s", path, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	unlink(tmp);
	return -1;
}

void
tg_pidfile_remove(const char *state_dir)
{
	char path[PATH_MAX + 32], why[64];

	pid_path(state_dir, path, sizeof(path));
	if (read_pid(path, why, sizeof(why)) == getpid())
		unlink(path);
}
