/*
 * The master's systemd notify protocol, seen from systemd's side: a datagram
 * socket at $NOTIFY_SOCKET (a path, or an '@' abstract name), the real daemon
 * (TG_TOLLGATE_BIN, default build/tollgate, run from the repository root)
 * and its READY=1, RELOADING=1 + MONOTONIC_USEC / READY=1 and STOPPING=1.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "tg_clock.h"
#include "check_util.h"

#define WAIT_MS 15000           /* generous: the sanitizer build starts slowly */

struct daemon {
	char  dir[64];          /* private temp dir: config, state, stderr log */
	char  cfg_path[128];
	int   sock;             /* our end of NOTIFY_SOCKET */
	pid_t pid;
	int   pidfd;            /* readable once the daemon has exited */
};


static const char *
tollgate_bin(void)
{
	const char *bin = getenv("TG_TOLLGATE_BIN");

	return bin != NULL && *bin != '\0' ? bin : "build/tollgate";
}

/* A loopback port nobody listens on right now: bind to 0 and read it back. */
static unsigned
free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned port;

	ck_assert_int_ne(fd, -1);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static void
write_config(struct daemon *d, const char *model_price)
{
	FILE *f;

	snprintf(d->cfg_path, sizeof(d->cfg_path), "%s/tollgate.json", d->dir);
	f = fopen(d->cfg_path, "w");
	ck_assert_ptr_nonnull(f);
	/* the provider is never called: port 9 (discard) only has to parse */
	fprintf(f,
		"{\n"
		"  \"listen\": \"127.0.0.1:%u\",\n"
		"  \"workers\": 1,\n"
		"  \"state_dir\": \"%s/state\",\n"
		"  \"shutdown_timeout_ms\": 2000,\n"
		"  \"database\": { \"conninfo\": \"host=%s/no-such-socket-dir dbname=tollgate connect_timeout=1\",\n"
		"                \"ring_records\": 1024 },\n"
		"  \"providers\": { \"anthropic\": { \"kind\": \"anthropic\",\n"
		"      \"base_url\": \"http://127.0.0.1:9\", \"api_key_env\": \"TG_NOTIFY_TEST_KEY\" } },\n"
		"  \"models\": { \"claude-3-haiku\": { \"provider\": \"anthropic\",\n"
		"      \"upstream\": \"claude-3-haiku-20240307\",\n"
		"      \"price_per_mtok\": { \"input\": %s, \"output\": \"1.25\" } } }\n"
		"}\n",
		free_port(), d->dir, d->dir, model_price);
	ck_assert_int_eq(fclose(f), 0);
}

/* Bind our end of the notify socket; name is a path or "@abstract". */
static void
bind_notify(struct daemon *d, const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(name);

	ck_assert_uint_lt(len, sizeof(sa.sun_path));
	memcpy(sa.sun_path, name, len);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	d->sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ne(d->sock, -1);
	ck_assert_msg(bind(d->sock, (struct sockaddr *)&sa,
			   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) == 0,
		      "bind %s: %s", name, strerror(errno));
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", name, 1), 0);
}

/* Start the daemon with its stderr in DIR/tollgate.log; NOTIFY_SOCKET is already set. */
static void
start_daemon(struct daemon *d)
{
	const char *bin = tollgate_bin();
	char log_path[128];
	pid_t parent = getpid();

	ck_assert_msg(access(bin, X_OK) == 0, "%s is not built (make; or set TG_TOLLGATE_BIN): %s",
		      bin, strerror(errno));
	ck_assert_int_eq(setenv("TG_NOTIFY_TEST_KEY", "sk-ant-notify-test", 1), 0);
	snprintf(log_path, sizeof(log_path), "%s/tollgate.log", d->dir);
	d->pid = fork();
	ck_assert_int_ne(d->pid, -1);
	if (d->pid == 0) {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		/* a failed assertion ends the test process: take the daemon with it */
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		if (fd != -1) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execl(bin, bin, "-c", d->cfg_path, (char *)NULL);
		_exit(127);
	}
	d->pidfd = (int)syscall(SYS_pidfd_open, d->pid, 0);
	ck_assert_msg(d->pidfd != -1, "pidfd_open: %s", strerror(errno));
}

static void
setup_daemon(struct daemon *d)
{
	memset(d, 0, sizeof(*d));
	d->sock = d->pidfd = -1;
	snprintf(d->dir, sizeof(d->dir), "/tmp/tg-notify-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(d->dir));
}

static void
teardown_daemon(struct daemon *d)
{
	if (d->pid > 0) {
		kill(d->pid, SIGKILL);
		(void)waitpid(d->pid, NULL, 0);
	}
	if (d->sock != -1)
		close(d->sock);
	if (d->pidfd != -1)
		close(d->pidfd);
	tg_test_remove_tree(d->dir);
}

/*
 * Next datagram within the deadline, NUL-terminated into buf. Fails the test
 * (with the daemon's log) when none comes or the daemon exits first.
 */
static void
next_message(struct daemon *d, char *buf, size_t size, const char *waiting_for)
{
	uint64_t deadline = tg_clock_mono_ms() + WAIT_MS;

	for (;;) {
		struct pollfd p[2] = { { .fd = d->sock, .events = POLLIN },
				       { .fd = d->pidfd, .events = POLLIN } };
		uint64_t now = tg_clock_mono_ms();
		ssize_t n;

		ck_assert_msg(now < deadline, "no %s from tollgate within %d ms (log in %s/tollgate.log)",
			      waiting_for, WAIT_MS, d->dir);
		if (poll(p, 2, (int)(deadline - now)) == -1) {
			ck_assert_int_eq(errno, EINTR);
			continue;
		}
		if (p[0].revents & POLLIN) {
			n = recv(d->sock, buf, size - 1, 0);
			ck_assert_int_gt(n, 0);
			buf[n] = '\0';
			return;
		}
		ck_assert_msg(!(p[1].revents & POLLIN), "tollgate exited while waiting for %s "
			      "(log in %s/tollgate.log)", waiting_for, d->dir);
	}
}

/* Whether the datagram has the exact line (systemd splits on newlines). */
static int
has_line(const char *msg, const char *line)
{
	size_t len = strlen(line);

	for (const char *p = msg; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : p) {
		if (strncmp(p, line, len) == 0 && (p[len] == '\n' || p[len] == '\0'))
			return 1;
	}
	return 0;
}

/* The value of KEY=value in the datagram, or NULL. */
static const char *
field(const char *msg, const char *key)
{
	size_t len = strlen(key);

	for (const char *p = msg; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : p) {
		if (strncmp(p, key, len) == 0 && p[len] == '=')
			return p + len + 1;
	}
	return NULL;
}

/*
 * A pids cgroup around the daemon's master, v1 or v2: the real fault behind
 * a failed fork (issue 11 item 6). Fills dir and home (the master's own
 * cgroup, to move it back); returns 0, or -1 with why when none can be made.
 */
struct pids_cgroup {
	char dir[320];
	char home[320];
};

static int
pids_hierarchy(char *root, size_t n, bool *v2)
{
	char line[1024];
	FILE *f = fopen("/proc/self/mountinfo", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		char mnt[200], fstype[32], opts[256], path[300], ctrls[256] = "";
		const char *sep = strstr(line, " - ");
		FILE *c;

		if (sep == NULL || sscanf(line, "%*s %*s %*s %*s %199s", mnt) != 1 ||
		    sscanf(sep, " - %31s %*s %255s", fstype, opts) != 2)
			continue;
		if (strcmp(fstype, "cgroup") == 0 && (strstr(opts, ",pids") != NULL ||
						     strncmp(opts, "pids", 4) == 0)) {
			*v2 = false;
		} else if (strcmp(fstype, "cgroup2") == 0) {
			snprintf(path, sizeof(path), "%s/cgroup.controllers", mnt);
			c = fopen(path, "r");
			if (c == NULL)
				continue;
			if (fgets(ctrls, sizeof(ctrls), c) == NULL)
				ctrls[0] = '\0';
			fclose(c);
			if (strstr(ctrls, "pids") == NULL)
				continue;
			*v2 = true;
		} else {
			continue;
		}
		snprintf(root, n, "%s", mnt);
		fclose(f);
		return 0;
	}
	fclose(f);
	return -1;
}

static int
write_text(const char *dir, const char *file, const char *text)
{
	char path[400];
	int fd, rc;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd == -1)
		return -1;
	rc = write(fd, text, strlen(text)) == (ssize_t)strlen(text) ? 0 : -1;
	close(fd);
	return rc;
}

static int
pids_cgroup_make(struct pids_cgroup *cg, pid_t pid, char *why, size_t whylen)
{
	char root[200], path[512], line[512];
	struct dirent *e;
	DIR *dir;
	bool v2;
	FILE *f;

	if (pids_hierarchy(root, sizeof(root), &v2) == -1) {
		snprintf(why, whylen, "no pids cgroup controller is mounted");
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "r");
	cg->home[0] = '\0';
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		char *ctrls = strchr(line, ':'), *rel = ctrls ? strchr(ctrls + 1, ':') : NULL;
		if (rel == NULL)
			continue;
		*rel++ = '\0';
		rel[strcspn(rel, "\n")] = '\0';
		if (v2 ? ctrls[1] == '\0' : strstr(ctrls + 1, "pids") != NULL)
			snprintf(cg->home, sizeof(cg->home), "%s%s", root, rel);
	}
	if (f != NULL)
		fclose(f);
	if (v2)
		(void)write_text(root, "cgroup.subtree_control", "+pids");
	/* a failed assertion skips pids_cgroup_leave: what an earlier run left is empty by now */
	dir = opendir(root);
	while (dir != NULL && (e = readdir(dir)) != NULL) {
		snprintf(path, sizeof(path), "%s/%s", root, e->d_name);
		if (strncmp(e->d_name, "tollgate-notify-", 16) == 0)
			(void)rmdir(path);
	}
	if (dir != NULL)
		closedir(dir);
	snprintf(cg->dir, sizeof(cg->dir), "%s/tollgate-notify-%d", root, (int)getpid());
	snprintf(path, sizeof(path), "%s/pids.max", cg->dir);
	if (cg->home[0] == '\0' || (mkdir(cg->dir, 0755) == -1 && errno != EEXIST) ||
	    access(path, W_OK) == -1) {
		snprintf(why, whylen, "could not make a pids cgroup under %s: %s", root,
			 strerror(errno));
		rmdir(cg->dir);
		return -1;
	}
	return 0;
}

/* Move pid into the cgroup, with room for `room` more processes beside it. */
static void
pids_cgroup_enter(const struct pids_cgroup *cg, pid_t pid, int room)
{
	char text[32], path[400];
	long current = -1;
	FILE *f;

	snprintf(text, sizeof(text), "%d", (int)pid);
	ck_assert_int_eq(write_text(cg->dir, "cgroup.procs", text), 0);
	snprintf(path, sizeof(path), "%s/pids.current", cg->dir);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fscanf(f, "%ld", &current), 1);
	fclose(f);
	snprintf(text, sizeof(text), "%ld", current + room);
	ck_assert_int_eq(write_text(cg->dir, "pids.max", text), 0);
}

static void
pids_cgroup_leave(const struct pids_cgroup *cg, pid_t pid)
{
	char text[32];

	snprintf(text, sizeof(text), "%d", (int)pid);
	(void)write_text(cg->dir, "pids.max", "max");
	(void)write_text(cg->home, "cgroup.procs", text);
	rmdir(cg->dir);
}

static void
expect_ready(struct daemon *d, const char *when)
{
	char msg[1024];

	next_message(d, msg, sizeof(msg), when);
	ck_assert_msg(has_line(msg, "READY=1"), "%s: expected READY=1, got \"%s\"", when, msg);
}

/* SIGHUP: RELOADING=1 with a MONOTONIC_USEC taken during the reload, then READY=1. */
static void
expect_reload(struct daemon *d, const char *status_prefix)
{
	char msg[1024];
	const char *usec, *status;
	uint64_t before = tg_clock_mono_us(), after, stamp;
	char *end;

	ck_assert_int_eq(kill(d->pid, SIGHUP), 0);
	next_message(d, msg, sizeof(msg), "RELOADING=1");
	after = tg_clock_mono_us();
	ck_assert_msg(has_line(msg, "RELOADING=1"), "expected RELOADING=1, got \"%s\"", msg);
	usec = field(msg, "MONOTONIC_USEC");
	ck_assert_msg(usec != NULL, "RELOADING=1 without MONOTONIC_USEC: \"%s\"", msg);
	errno = 0;
	stamp = strtoull(usec, &end, 10);
	ck_assert_msg(errno == 0 && end != usec && (*end == '\0' || *end == '\n'),
		      "MONOTONIC_USEC is not a number: \"%s\"", msg);
	/* systemd compares it with its own CLOCK_MONOTONIC: it must be that clock, now */
	ck_assert_msg(stamp >= before && stamp <= after,
		      "MONOTONIC_USEC=%" PRIu64 " is not between %" PRIu64 " and %" PRIu64,
		      stamp, before, after);
	ck_assert_msg(!has_line(msg, "READY=1"), "READY=1 must come after RELOADING=1: \"%s\"", msg);

	next_message(d, msg, sizeof(msg), "READY=1 after the reload");
	ck_assert_msg(has_line(msg, "READY=1"), "after RELOADING=1 expected READY=1, got \"%s\"", msg);
	status = field(msg, "STATUS");
	if (status_prefix != NULL)
		ck_assert_msg(status != NULL && strncmp(status, status_prefix, strlen(status_prefix)) == 0,
			      "expected STATUS=%s..., got \"%s\"", status_prefix, msg);
}

/* SIGTERM: STOPPING=1, then the process exits 0. */
static void
expect_stop(struct daemon *d)
{
	char msg[1024];
	uint64_t deadline;
	int st;

	ck_assert_int_eq(kill(d->pid, SIGTERM), 0);
	next_message(d, msg, sizeof(msg), "STOPPING=1");
	ck_assert_msg(has_line(msg, "STOPPING=1"), "on SIGTERM expected STOPPING=1, got \"%s\"", msg);

	deadline = tg_clock_mono_ms() + WAIT_MS;
	for (;;) {
		struct pollfd p = { .fd = d->pidfd, .events = POLLIN };
		uint64_t now = tg_clock_mono_ms();

		ck_assert_msg(now < deadline, "tollgate did not exit within %d ms of SIGTERM", WAIT_MS);
		if (poll(&p, 1, (int)(deadline - now)) > 0)
			break;
	}
	ck_assert_int_eq(waitpid(d->pid, &st, 0), d->pid);
	d->pid = 0;
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "tollgate should exit 0 after SIGTERM (status 0x%x, log in %s/tollgate.log)",
		      (unsigned)st, d->dir);
}

START_TEST(path_socket_ready_reload_stopping)
{
	struct daemon d;
	char name[128];

	setup_daemon(&d);
	write_config(&d, "\"0.25\"");
	snprintf(name, sizeof(name), "%s/notify.sock", d.dir);
	bind_notify(&d, name);
	start_daemon(&d);

	expect_ready(&d, "READY=1 once serving");
	expect_reload(&d, "serving");
	/*
	 * A second HUP at once, while the old generation may still be draining:
	 * whatever the master makes of it, systemd must see the same pairing.
	 */
	expect_reload(&d, NULL);
	expect_stop(&d);
	teardown_daemon(&d);
}
END_TEST

START_TEST(abstract_socket_ready_reload_stopping)
{
	struct daemon d;
	char name[108];

	setup_daemon(&d);
	write_config(&d, "\"0.25\"");
	snprintf(name, sizeof(name), "@tollgate-notify-test-%ld-%llu", (long)getpid(),
		 (unsigned long long)tg_clock_mono_us());
	bind_notify(&d, name);
	start_daemon(&d);

	expect_ready(&d, "READY=1 once serving");
	expect_reload(&d, "serving");
	expect_stop(&d);
	teardown_daemon(&d);
}
END_TEST

/* A reload that finds a broken file still closes with READY=1 (systemd would wait otherwise). */
START_TEST(invalid_reload_still_answers_ready)
{
	struct daemon d;
	char name[128];

	setup_daemon(&d);
	write_config(&d, "\"0.25\"");
	snprintf(name, sizeof(name), "%s/notify.sock", d.dir);
	bind_notify(&d, name);
	start_daemon(&d);

	expect_ready(&d, "READY=1 once serving");
	write_config(&d, "true");          /* a price must be a decimal */
	expect_reload(&d, "reload failed");
	expect_stop(&d);
	teardown_daemon(&d);
}
END_TEST

/*
 * Issue 11 item 6: a reload whose worker cannot be forked (the master held in
 * a pids cgroup with no room) is rolled back, and systemd hears why. Passes
 * with a note on stderr where no pids cgroup can be made.
 */
START_TEST(reload_whose_fork_fails_says_why)
{
	struct daemon d;
	struct pids_cgroup cg;
	char name[128], why[512];

	setup_daemon(&d);
	write_config(&d, "\"0.25\"");
	snprintf(name, sizeof(name), "%s/notify.sock", d.dir);
	bind_notify(&d, name);
	start_daemon(&d);
	expect_ready(&d, "READY=1 once serving");
	if (pids_cgroup_make(&cg, d.pid, why, sizeof(why)) == -1) {
		fprintf(stderr, "notify: reload_whose_fork_fails_says_why skipped: %s\n", why);
		teardown_daemon(&d);
		return;
	}
	pids_cgroup_enter(&cg, d.pid, 0);
	expect_reload(&d, "reload failed, rolled back to generation 1: "
		      "could not fork worker 1 of 1: Resource temporarily unavailable");
	pids_cgroup_leave(&cg, d.pid);
	expect_reload(&d, "serving");
	expect_stop(&d);
	teardown_daemon(&d);
}
END_TEST

Suite *tg_notify_suite(void);

Suite *
tg_notify_suite(void)
{
	Suite *s = suite_create("notify");
	TCase *tc = tcase_create("notify");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, path_socket_ready_reload_stopping);
	tcase_add_test(tc, abstract_socket_ready_reload_stopping);
	tcase_add_test(tc, invalid_reload_still_answers_ready);
	tcase_add_test(tc, reload_whose_fork_fails_says_why);
	suite_add_tcase(s, tc);
	return s;
}
