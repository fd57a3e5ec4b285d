/* program.c - the program transport: pipe a rendered letter into a
 * program such as `sendmail -t` and collect what it says.
 *
 * Design §4.11.  POSIX.1-2017: fork, execvp, pipe, poll, waitpid,
 * sigtimedwait; XSH 2.4.3 (async-signal-safe functions, the only ones
 * the child may call before exec, since another thread may have held a
 * lock - malloc's - when we forked); XCU 2.8.2 (exit statuses 126 and 127
 * of the shell).
 *
 * The letter is what po_reader produces with PO_RENDER_BCC: CRLF, no
 * dot-stuffing, no final "." line (design §2).  The encoders keep lone "."
 * lines out of the bodies they write (design §4.9), so that sendmail -t
 * without -i does not cut the letter short there.
 *
 * A program that sees a clean end of its input acts on what it read:
 * sendmail queues it.  So on every way out of a run that did not feed the
 * whole letter - a render error, a timeout, a poll failure, a caller's
 * po_program_kill (from a signal handler, or a binding's non-local exit)
 * - its process group is killed with SIGKILL while its stdin is still
 * open, and only then is stdin closed.  One race remains, outside the
 * library's reach: if the calling process itself is killed by SIGKILL,
 * the pipe closes with it.  PR_SET_PDEATHSIG (Linux) then kills the
 * program too, as a best effort: it is cleared when the program is a
 * set-user-ID or set-group-ID one (as some sendmails are), and it follows
 * the thread that forked, which a binding must keep alive during the run
 * (po_program_send does not return before the program has exited).
 *
 * With sendmail -t the header is the envelope: the recipients are read
 * from the To, Cc and Bcc fields (Resent-To, -Cc, -Bcc when there are
 * any).  A letter whose own fields name someone not among its recipients,
 * or leave one of them out, is refused before anything runs
 * (PO_EENVELOPE).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "address.h"
#include "po_private.h"

#define KEEP_MAX (64 * 1024) /* bytes of stdout and of stderr kept */
#define CHUNK (64 * 1024)    /* rendered bytes per refill: a pipe's buffer */
#define SCRATCH (16 * 1024)  /* bytes per read of stdout or stderr */
#define TIMEOUT_MS 600000    /* default bound on a run, as on an SMTP send */
#define TICK_MAX_MS 64       /* longest sleep between looks at the child */
#define NAME_MAX_ 60         /* bytes of a shell command in messages */
#define LINE_MAX_ 200        /* bytes of stderr in messages */
#define NOT_RUN (-1000)

struct po_program {
	char **argv;       /* NULL-terminated, owned */
	const char *file;  /* what execvp gets: argv[0] or "/bin/sh" */
	char *name;        /* the program as messages name it */
	int shell;
	long timeout_ms;   /* 0: none */
	atomic_int running; /* the process group of the run, 0 if none: read
			       by po_program_kill, maybe in a signal handler */
	int exit_status;
	po__buf out, err;
	char *errmsg;      /* NULL after success */
};

enum in_state {
	IN_WRITE, /* rendering and writing the letter */
	IN_DRAIN, /* all written; waiting for the program to read it */
	IN_DONE   /* our end is closed */
};

struct run {
	po_program *pg;
	po_reader *reader;
	pid_t pid;
	int reaped, lost, wstatus;
	int in, out, err;    /* our ends of the pipes, -1 once closed */
	enum in_state state;
	char *chunk;         /* CHUNK bytes of letter, then SCRATCH */
	size_t pos, len;
	int rendered;        /* po_reader_read has reported the end */
	int short_read;      /* the program left part of the letter */
	int epipe;           /* a write raised SIGPIPE */
	int tick;            /* ms */
};

/* ---------------------------------------------------------------------
 * Messages */

/* Copy at most max bytes of s[0..n) into out (of size >= max + 4) as
 * one printable line: stop at the first line break, turn other control
 * characters into spaces, cut on a UTF-8 character boundary and mark a
 * cut with "...". */
static void one_line(char *out, const char *s, size_t n, size_t max)
{
	size_t i = 0, k = 0;

	while (i < n && (s[i] == '\r' || s[i] == '\n'))
		i++;
	for (; i < n && s[i] != '\r' && s[i] != '\n'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (k == max) {
			/* c continues a character: drop its first bytes */
			while ((c & 0xc0) == 0x80 && k > 0) {
				c = (unsigned char)out[--k];
				if ((c & 0xc0) != 0x80)
					break;
			}
			memcpy(out + k, "...", 3);
			k += 3;
			break;
		}
		out[k++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	while (k > 0 && out[k - 1] == ' ')
		k--;
	out[k] = '\0';
}

static int fail(po_program *pg, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Record the failure for po_last_error() and keep a copy on the handle. */
static int fail(po_program *pg, int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	free(pg->errmsg);
	pg->errmsg = strdup(msg);
	return po__fail(status, "%s", msg);
}

/* ---------------------------------------------------------------------
 * Handles */

static po_program *program_new(char **argv, const char *file, int shell,
			       const char *name)
{
	po_program *pg = calloc(1, sizeof *pg);
	char line[NAME_MAX_ + 4];

	if (!pg)
		return NULL;
	pg->argv = argv;
	pg->file = file;
	pg->shell = shell;
	pg->timeout_ms = TIMEOUT_MS;
	atomic_init(&pg->running, 0);
	pg->exit_status = NOT_RUN;
	if (shell) {
		one_line(line, name, strlen(name), NAME_MAX_);
		if (asprintf(&pg->name, "\"%s\"", line) < 0)
			pg->name = NULL;
	} else {
		pg->name = strdup(name);
	}
	if (!pg->name) {
		pg->argv = NULL;
		free(pg);
		return NULL;
	}
	return pg;
}

static void free_argv(char **argv)
{
	size_t i;

	if (!argv)
		return;
	for (i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
}

po_program *po_program_new_argv(const char *const *argv)
{
	po_program *pg;
	char **v;
	size_t n, i;

	if (!argv || !argv[0] || !argv[0][0])
		return NULL;
	for (n = 0; argv[n]; n++)
		;
	v = calloc(n + 1, sizeof *v);
	if (!v)
		return NULL;
	for (i = 0; i < n; i++) {
		v[i] = strdup(argv[i]);
		if (!v[i]) {
			free_argv(v);
			return NULL;
		}
	}
	pg = program_new(v, v[0], 0, v[0]);
	if (!pg)
		free_argv(v);
	return pg;
}

po_program *po_program_new_shell(const char *command)
{
	/* "--" so that a command starting with "-" is not read as an
	 * option of sh (XCU 12.2, guideline 10). */
	static const char *const pre[] = {"sh", "-c", "--"};
	po_program *pg;
	char **v;
	size_t i;

	if (!command)
		return NULL;
	v = calloc(5, sizeof *v);
	if (!v)
		return NULL;
	for (i = 0; i < 4; i++) {
		v[i] = strdup(i < 3 ? pre[i] : command);
		if (!v[i]) {
			free_argv(v);
			return NULL;
		}
	}
	pg = program_new(v, "/bin/sh", 1, command);
	if (!pg)
		free_argv(v);
	return pg;
}

void po_program_free(po_program *pg)
{
	int group;

	if (!pg)
		return;
	/* A run whose po_program_send was abandoned (a binding's non-local
	 * exit through it) is still registered: kill and reap it. */
	group = atomic_load(&pg->running);
	if (group > 0) {
		(void)kill(-group, SIGKILL);
		while (waitpid(group, NULL, 0) < 0 && errno == EINTR)
			;
	}
	free_argv(pg->argv);
	free(pg->name);
	po__buf_free(&pg->out);
	po__buf_free(&pg->err);
	free(pg->errmsg);
	free(pg);
}

int po_program_set_timeout(po_program *pg, long ms)
{
	if (!pg)
		return po__fail(PO_EINVAL,
				"po_program_set_timeout: no program");
	pg->timeout_ms = ms > 0 ? ms : 0;
	return PO_OK;
}

int po_program_kill(po_program *pg)
{
	int group;

	if (!pg)
		return 0;
	/* Only calls that are async-signal-safe: this runs in handlers. */
	group = atomic_load(&pg->running);
	if (group <= 0)
		return 0;
	(void)kill(-group, SIGKILL);
	return 1;
}

int po_program_exit_status(const po_program *pg)
{
	return pg ? pg->exit_status : NOT_RUN;
}

static const char *buf_text(const po__buf *b, size_t *len_out)
{
	if (len_out)
		*len_out = b->p ? b->len : 0;
	return b->p ? b->p : "";
}

const char *po_program_stderr(const po_program *pg, size_t *len_out)
{
	static const po__buf none = PO__BUF_INIT;

	return buf_text(pg ? &pg->err : &none, len_out);
}

const char *po_program_stdout(const po_program *pg, size_t *len_out)
{
	static const po__buf none = PO__BUF_INIT;

	return buf_text(pg ? &pg->out : &none, len_out);
}

const char *po_program_errmsg(const po_program *pg)
{
	return pg && pg->errmsg ? pg->errmsg : "";
}

static void reset(po_program *pg)
{
	pg->exit_status = NOT_RUN;
	pg->out.len = 0;
	if (pg->out.p)
		pg->out.p[0] = '\0';
	pg->err.len = 0;
	if (pg->err.p)
		pg->err.p[0] = '\0';
	free(pg->errmsg);
	pg->errmsg = NULL;
}

/* ---------------------------------------------------------------------
 * Starting the program */

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Close every descriptor from first up: the program must not inherit
 * the host's (an open writable file of a Lisp image, a socket...).  Most
 * are close-on-exec already, but a host cannot be relied on for that. */
static void close_from(int first, int maxfd)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)first, ~0U, 0U) == 0)
		return;
#endif
	for (int fd = first; fd < maxfd; fd++)
		(void)close(fd);
}

/* Between fork and exec.  fd: the ends that become 0, 1 and 2; report:
 * where to write errno if the program cannot be started; dfl and none:
 * made ready by the parent, since memset is not async-signal-safe;
 * parent: its pid, maxfd: its descriptor limit. */
_Noreturn static void child(const po_program *pg, int fd[3], int report,
			    const struct sigaction *dfl,
			    const sigset_t *none, pid_t parent, int maxfd)
{
	ssize_t w;
	int i, sig, e;

	/* A descriptor below 3 (the caller had closed stdin...) would be
	 * overwritten by the dup2 calls before it is used. */
	if (report < 3)
		report = fcntl(report, F_DUPFD_CLOEXEC, 3);
	for (i = 0; i < 3; i++) {
		if (fd[i] < 3)
			fd[i] = fcntl(fd[i], F_DUPFD_CLOEXEC, 3);
		if (fd[i] < 0)
			goto fail;
	}
	for (i = 0; i < 3; i++)
		if (dup2(fd[i], i) < 0)
			goto fail;
	/* The report pipe on 3 (close-on-exec), everything above closed. */
	if (report != 3) {
		if (dup3(report, 3, O_CLOEXEC) < 0)
			goto fail;
		report = 3;
	}
	close_from(4, maxfd);
	/* Our own process group, so that a kill reaches the programs a
	 * shell started too: a sendmail left alive after its shell was
	 * killed would see a clean end of input and send a truncated
	 * letter. */
	if (setpgid(0, 0) < 0)
		goto fail;
#ifdef __linux__
	/* Should the caller die without killing us (SIGKILL), die too,
	 * rather than read a clean end of input.  Best effort: see the top
	 * of this file.  The parent may be gone already. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127);
#else
	(void)parent;
#endif
	/* Ignored signals stay ignored across exec (XSH exec): a program
	 * with SIGPIPE ignored would not die when its reader goes away.
	 * Caught ones must not run the parent's handler before exec. */
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, dfl, NULL);
	/* The mask is inherited too, and the caller (a Lisp image) may
	 * block signals the program needs. */
	if (sigprocmask(SIG_SETMASK, none, NULL) < 0)
		goto fail;
	execvp(pg->file, pg->argv);
fail:
	e = errno;
	w = write(report, &e, sizeof e);
	(void)w;
	_exit(127);
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* waitpid on our child only: the host may have children of its own.
 * po_program_kill forgets the group first, while the pid cannot yet
 * belong to anyone else. */
static int reap(struct run *r, int flags)
{
	siginfo_t info;
	pid_t p;
	int rc;

	if (r->reaped)
		return 1;
	memset(&info, 0, sizeof info);
	do
		rc = waitid(P_PID, (id_t)r->pid, &info,
			    WEXITED | WNOWAIT | (flags & WNOHANG));
	while (rc < 0 && errno == EINTR);
	if (rc == 0 && info.si_pid == 0)
		return 0;
	atomic_store(&r->pg->running, 0);
	do
		p = waitpid(r->pid, &r->wstatus, flags);
	while (p < 0 && errno == EINTR);
	if (p == 0)
		return 0;
	r->reaped = 1;
	/* ECHILD: SIGCHLD is ignored, or a handler of the host reaped it
	 * with wait(). */
	r->lost = p < 0;
	return 1;
}

/* Signal the program's process group; never after it is reaped, when
 * its id may belong to someone else. */
static void signal_program(struct run *r, int sig)
{
	if (!r->reaped)
		(void)kill(-r->pid, sig);
}

static int start(struct run *r)
{
	po_program *pg = r->pg;
	int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
	int rep[2] = {-1, -1}, fd[3], e = 0, result = PO_OK, maxfd;
	struct sigaction dfl;
	struct rlimit rl;
	sigset_t all, none, saved;
	pid_t parent = getpid();
	ssize_t n;

	/* O_CLOEXEC everywhere: a program started by another thread must
	 * not inherit our ends, or ours would never see an end of input. */
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
	    pipe2(err, O_CLOEXEC) < 0 || pipe2(rep, O_CLOEXEC) < 0 ||
	    set_nonblock(in[1]) < 0 || set_nonblock(out[0]) < 0 ||
	    set_nonblock(err[0]) < 0) {
		result = fail(pg, PO_ENOPROGRAM,
			      "program %s could not be run: pipe: %s",
			      pg->name, strerror(errno));
		goto out;
	}
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigemptyset(&none);
	fd[0] = in[0];
	fd[1] = out[1];
	fd[2] = err[1];
	/* for a system without close_range: where the loop may stop */
	maxfd = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
			rl.rlim_cur < 65536
		? (int)rl.rlim_cur
		: 65536;
	/* No handler of the caller may run in the child before exec. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &saved);
	r->pid = fork();
	if (r->pid == 0)
		child(pg, fd, rep[1], &dfl, &none, parent, maxfd);
	e = errno;
	if (r->pid > 0) {
		/* Set here too, so that a kill can reach the group as soon as
		 * fork returns (EACCES once the child has exec'd: it set it
		 * itself). */
		(void)setpgid(r->pid, r->pid);
		atomic_store(&pg->running, (int)r->pid);
	}
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (r->pid < 0) {
		result = fail(pg, PO_ENOPROGRAM,
			      "program %s could not be run: fork: %s",
			      pg->name, strerror(e));
		goto out;
	}
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&err[1]);
	close_fd(&rep[1]);
	/* The end of this pipe comes with a successful exec (it is
	 * close-on-exec); an errno comes before it if the exec failed. */
	do
		n = read(rep[0], &e, sizeof e);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof e) {
		reap(r, 0);
		r->pid = -1;
		result = fail(pg, PO_ENOPROGRAM,
			      "program %s could not be run: %s", pg->name,
			      strerror(e));
		goto out;
	}
	r->in = in[1];
	r->out = out[0];
	r->err = err[0];
	in[1] = out[0] = err[0] = -1;
out:
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&err[0]);
	close_fd(&err[1]);
	close_fd(&rep[0]);
	close_fd(&rep[1]);
	return result;
}

/* ---------------------------------------------------------------------
 * Feeding the letter and collecting the output */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Bytes written into the stdin pipe that the program has not read yet;
 * 0 where the system cannot tell (Linux answers FIONREAD on either end
 * of a pipe). */
static int unread(int fd)
{
	int n = 0;

	if (ioctl(fd, FIONREAD, &n) < 0)
		return 0;
	return n;
}

static void stdin_done(struct run *r)
{
	close_fd(&r->in);
	r->state = IN_DONE;
}

/* Refill the letter buffer; once all is written, close stdin as soon as
 * the program has read everything.  Waiting for that, instead of
 * closing at once, is what tells a program that exits without reading
 * a short letter (it fits in the pipe) from one that read it. */
static int feed(struct run *r)
{
	size_t n;
	int rc;

	if (r->state == IN_WRITE && r->pos == r->len) {
		if (!r->rendered) {
			rc = po_reader_read(r->reader, r->chunk, CHUNK, &n);
			if (rc)
				return rc;
			r->pos = 0;
			r->len = n;
			r->rendered = n == 0;
		}
		if (r->rendered) {
			r->state = IN_DRAIN;
			r->tick = 1;
		}
	}
	if (r->state == IN_DRAIN && unread(r->in) == 0)
		stdin_done(r);
	return PO_OK;
}

static void write_some(struct run *r, short revents)
{
	ssize_t n;

	if (r->state == IN_DRAIN) {
		/* POLLERR on a write end: no reader is left (XSH poll). */
		if (revents & (POLLERR | POLLHUP)) {
			r->short_read = unread(r->in) > 0;
			stdin_done(r);
		}
		return;
	}
	/* On POLLERR the write fails with EPIPE, and says so itself. */
	if (!(revents & (POLLOUT | POLLERR | POLLHUP)))
		return;
	n = write(r->in, r->chunk + r->pos, r->len - r->pos);
	if (n > 0) {
		r->pos += (size_t)n;
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	r->epipe = n < 0 && errno == EPIPE;
	r->short_read = 1;
	stdin_done(r);
}

/* Read once from fd; keep the first KEEP_MAX bytes in b.
 * Returns: 1 if more may be ready at once, 0 otherwise. */
static int collect(struct run *r, int *fd, po__buf *b)
{
	char *scratch = r->chunk + CHUNK;
	ssize_t n;
	size_t keep;

	do
		n = read(*fd, scratch, SCRATCH);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0) {
		close_fd(fd);
		return 0;
	}
	keep = KEEP_MAX - b->len;
	if (keep > (size_t)n)
		keep = (size_t)n;
	/* On OOM, keep less rather than fail a send that worked. */
	if (keep)
		(void)po__buf_append(b, scratch, keep);
	return 1;
}

/* The program has exited: take what it left in the pipes, but no more
 * than a pipe can hold (a child of its own may still be writing). */
static void finish_pipes(struct run *r)
{
	int i;

	if (r->state == IN_WRITE)
		r->short_read = 1;
	else if (r->state == IN_DRAIN)
		r->short_read = unread(r->in) > 0;
	stdin_done(r);
	for (i = 0; i < KEEP_MAX / SCRATCH + 2; i++)
		if (r->out < 0 || !collect(r, &r->out, &r->pg->out))
			break;
	for (i = 0; i < KEEP_MAX / SCRATCH + 2; i++)
		if (r->err < 0 || !collect(r, &r->err, &r->pg->err))
			break;
	close_fd(&r->out);
	close_fd(&r->err);
}

/* Kill the program before its stdin is closed, so that it never sees a
 * clean end of input, and reap it. */
static void abort_run(struct run *r)
{
	signal_program(r, SIGKILL);
	reap(r, 0);
}

/* Write the letter and read stdout and stderr at once, so that a
 * program writing much before it reads cannot block us, until the
 * program has exited.
 * Returns: PO_OK, PO_ETIMEOUT, PO_ETRANSPORT, or the render error. */
static int pump(struct run *r)
{
	long long now, deadline = 0;
	struct pollfd pfd[3];
	int nfds, in_i, out_i, err_i, wait, n, idle, rc;

	if (r->pg->timeout_ms > 0)
		deadline = now_ms() + r->pg->timeout_ms;
	r->tick = 1;
	for (;;) {
		rc = feed(r);
		if (rc) {
			abort_run(r);
			return rc;
		}
		nfds = 0;
		in_i = out_i = err_i = -1;
		if (r->in >= 0) {
			/* With no events, poll still reports POLLERR. */
			in_i = nfds++;
			pfd[in_i].fd = r->in;
			pfd[in_i].events = 0;
			if (r->state == IN_WRITE)
				pfd[in_i].events = POLLOUT;
		}
		if (r->out >= 0) {
			out_i = nfds++;
			pfd[out_i].fd = r->out;
			pfd[out_i].events = POLLIN;
		}
		if (r->err >= 0) {
			err_i = nfds++;
			pfd[err_i].fd = r->err;
			pfd[err_i].events = POLLIN;
		}
		/* Waiting on the child rather than on a pipe: look at it
		 * every tick, as it may exit while a child of its own keeps
		 * the pipes open. */
		idle = r->state != IN_WRITE;
		if (nfds == 0 && !deadline) {
			reap(r, 0);
			return PO_OK;
		}
		wait = idle ? r->tick : -1;
		if (deadline) {
			now = now_ms();
			if (wait < 0 || deadline - now < wait)
				wait = deadline > now ? (int)(deadline - now)
						      : 0;
		}
		n = poll(pfd, (nfds_t)nfds, wait);
		if (n < 0 && errno != EINTR) {
			rc = errno;
			abort_run(r);
			return fail(r->pg, PO_ETRANSPORT,
				    "program %s: poll: %s", r->pg->name,
				    strerror(rc));
		}
		if (n == 0 && r->tick < TICK_MAX_MS)
			r->tick *= 2;
		if (n > 0 && in_i >= 0 && pfd[in_i].revents)
			write_some(r, pfd[in_i].revents);
		if (n > 0 && out_i >= 0 && pfd[out_i].revents)
			collect(r, &r->out, &r->pg->out);
		if (n > 0 && err_i >= 0 && pfd[err_i].revents)
			collect(r, &r->err, &r->pg->err);
		if ((idle || r->state != IN_WRITE) && reap(r, WNOHANG)) {
			finish_pipes(r);
			return PO_OK;
		}
		if (deadline && now_ms() >= deadline) {
			/* SIGKILL, not SIGTERM: a program that handles SIGTERM
			 * might still act on the part of the letter it has */
			abort_run(r);
			return PO_ETIMEOUT;
		}
	}
}

/* ---------------------------------------------------------------------
 * The header is the envelope (sendmail -t) */

static const char *const rcpt_fields[] = {
	"To", "Cc", "Bcc", "Resent-To", "Resent-Cc", "Resent-Bcc",
};

/* The addresses of header fields, as envelope specs. */
struct specs {
	char **v;
	size_t n, cap;
};

static void specs_free(struct specs *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof *s);
}

/* "local@domain": the local part as it is, the domain in any case. */
static int same_spec(const char *a, const char *b)
{
	const char *at = strrchr(a, '@'), *bt = strrchr(b, '@');

	if (!at || !bt)
		return strcmp(a, b) == 0;
	return at - a == bt - b && memcmp(a, b, (size_t)(at - a)) == 0 &&
	       strcasecmp(at, bt) == 0;
}

static int specs_has(const struct specs *s, const char *spec)
{
	for (size_t i = 0; i < s->n; i++)
		if (same_spec(s->v[i], spec))
			return 1;
	return 0;
}

/* Parse one address of a header field and keep its spec. */
static int add_spec(struct specs *s, const char *field, const char *text,
		    size_t n)
{
	po__addr a = {0};
	char *one;
	int rc;

	while (n && (*text == ' ' || *text == '	')) {
		text++;
		n--;
	}
	while (n && (text[n - 1] == ' ' || text[n - 1] == '	'))
		n--;
	if (n == 0)
		return PO_OK;
	one = strndup(text, n);
	if (!one)
		return po__fail(PO_ENOMEM, NULL);
	rc = po__addr_parse(one, field, &a, NULL);
	free(one);
	if (rc)
		return po__fail(PO_EENVELOPE,
				"header %s: with the program transport "
				"(sendmail -t) its addresses are the envelope, "
				"and \"%.*s\" cannot be read as one",
				field, (int)(n > 80 ? 80 : n), text);
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		char **v = realloc(s->v, cap * sizeof *v);

		if (!v) {
			po__addr_clear(&a);
			return po__fail(PO_ENOMEM, NULL);
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = a.spec;
	a.spec = NULL;
	po__addr_clear(&a);
	return PO_OK;
}

/* The addresses of the value of a To/Cc/Bcc-like field: a list separated
 * by commas, groups ("name: a@b, c@d;", "undisclosed-recipients:;")
 * included, comments dropped.  Anything that is not an address is an
 * error: sendmail might find a recipient in it. */
static int field_specs(struct specs *s, const char *field, const char *v)
{
	po__buf item = PO__BUF_INIT;
	int quoted = 0, angle = 0, depth = 0, rc = PO_OK;

	for (const char *p = v;; p++) {
		char c = *p;

		if (c == '\0' || (!quoted && !angle && !depth &&
				  (c == ',' || c == ';' || c == ':'))) {
			if (c == ':') {
				/* a group's name is no address */
				item.len = 0;
				continue;
			}
			rc = add_spec(s, field, item.p ? item.p : "", item.len);
			item.len = 0;
			if (rc || c == '\0')
				break;
			continue;
		}
		if (c == '\\' && (quoted || depth) && p[1]) {
			if (!depth && (po__buf_putc(&item, c) ||
				       po__buf_putc(&item, p[1]))) {
				rc = po__fail(PO_ENOMEM, NULL);
				break;
			}
			p++;
			continue;
		}
		if (!quoted && c == '(') {
			depth++;
			continue;
		}
		if (!quoted && depth && c == ')') {
			depth--;
			continue;
		}
		if (depth)
			continue;
		if (c == '"')
			quoted = !quoted;
		else if (!quoted && c == '<')
			angle = 1;
		else if (!quoted && c == '>')
			angle = 0;
		if (po__buf_putc(&item, c)) {
			rc = po__fail(PO_ENOMEM, NULL);
			break;
		}
	}
	po__buf_free(&item);
	return rc;
}

static int is_rcpt_field(const char *name, size_t n, size_t *which)
{
	for (size_t i = 0; i < sizeof rcpt_fields / sizeof rcpt_fields[0];
	     i++)
		if (strlen(rcpt_fields[i]) == n &&
		    strncasecmp(name, rcpt_fields[i], n) == 0) {
			*which = i;
			return 1;
		}
	return 0;
}

/* sendmail -t sends to the addresses of the To, Cc and Bcc fields (of
 * Resent-To, -Cc and -Bcc when there are any): those must be exactly the
 * letter's recipients.  The fields the library writes are (Bcc too,
 * with PO_RENDER_BCC); the caller's own, which replace them, are checked:
 * no one outside the recipients, no recipient left out. */
static int check_envelope(po_program *pg, const po_letter *l)
{
	struct specs own[6] = {{0}};
	int given[6] = {0}, resent = 0, rc = PO_OK;
	size_t i, k, nl = l->nlines, nr = po_letter_recipient_count(l);
	const po__pairs *ph = l->body ? &l->body->headers : NULL;

	if (l->is_raw)
		return PO_OK; /* the caller's own letter, as given */
	for (i = 0; i < nl + (ph ? ph->n : 0) && !rc; i++) {
		const char *name, *value;
		size_t name_len, value_len;
		char *copy = NULL;

		if (i < nl) {
			name = l->lines[i];
			if (po__hdr_split(name, strlen(name), &name_len, &value,
					  &value_len))
				continue;
		} else {
			name = ph->name[i - nl];
			name_len = strlen(name);
			value = ph->value[i - nl];
			value_len = strlen(value);
		}
		if (!is_rcpt_field(name, name_len, &k))
			continue;
		copy = strndup(value, value_len);
		if (!copy) {
			rc = po__fail(PO_ENOMEM, NULL);
			break;
		}
		given[k] = 1;
		resent |= k >= 3;
		rc = field_specs(&own[k], rcpt_fields[k], copy);
		free(copy);
	}
	for (k = 0; k < 6 && !rc; k++)
		for (i = 0; i < own[k].n && !rc; i++) {
			int in = 0;

			for (size_t j = 0; j < nr && !in; j++)
				in = same_spec(own[k].v[i],
					       po__letter_rcpt(l, j));
			if (!in)
				rc = fail(pg, PO_EENVELOPE,
					  "header %s names %s, who is not a "
					  "recipient of the letter: with the "
					  "program transport (sendmail -t) the "
					  "header is the envelope",
					  rcpt_fields[k], own[k].v[i]);
		}
	for (i = 0; i < nr && !rc; i++) {
		const char *spec = po__letter_rcpt(l, i);
		int in;

		if (resent) {
			in = specs_has(&own[3], spec) ||
			     specs_has(&own[4], spec) ||
			     specs_has(&own[5], spec);
		} else {
			size_t nto = l->to.n, ncc = l->cc.n;

			/* the recipient's own list, unless a header of the
			 * caller's replaces the field it is written in */
			in = i < nto ? !given[0]
			     : i < nto + ncc ? !given[1]
					     : 1;
			in = in || specs_has(&own[0], spec) ||
			     specs_has(&own[1], spec) ||
			     specs_has(&own[2], spec);
		}
		if (!in)
			rc = fail(pg, PO_EENVELOPE,
				  "recipient %s is in none of the letter's "
				  "%s fields, which the caller's own replace: "
				  "with the program transport (sendmail -t) "
				  "it would not receive the letter",
				  spec, resent ? "Resent-To, Resent-Cc and "
						 "Resent-Bcc"
					       : "To, Cc and Bcc");
	}
	for (k = 0; k < 6; k++)
		specs_free(&own[k]);
	if (rc && !pg->errmsg)
		rc = fail(pg, rc, "%s", po_last_error());
	return rc;
}

/* ---------------------------------------------------------------------
 * Sending */

/* Judge a run that ended without error of ours. */
static int verdict(struct run *r)
{
	po_program *pg = r->pg;
	char line[LINE_MAX_ + 4];
	const char *sep;
	int st = r->wstatus, code;

	/* Without the status, success cannot be told from a refusal;
	 * failing may mean a duplicate, never a lost letter. */
	if (r->lost)
		return fail(pg, PO_EPROGRAM,
			    "program %s: its exit status was lost (SIGCHLD "
			    "ignored, or reaped by another wait)",
			    pg->name);
	one_line(line, pg->err.p ? pg->err.p : "", pg->err.len, LINE_MAX_);
	sep = line[0] ? ": " : "";
	if (WIFSIGNALED(st))
		return fail(pg, PO_EPROGRAM,
			    "program %s was killed by signal %d (%s)%s%s",
			    pg->name, WTERMSIG(st), strsignal(WTERMSIG(st)),
			    sep, line);
	code = WEXITSTATUS(st);
	/* The shell's way of saying that it found no such command, or
	 * could not execute it (XCU 2.8.2). */
	if (pg->shell && (code == 127 || code == 126))
		return fail(pg, PO_ENOPROGRAM,
			    "program %s could not be run (status %d)%s%s",
			    pg->name, code, sep, line);
	if (code != 0)
		return fail(pg, PO_EPROGRAM,
			    "program %s exited with status %d%s%s", pg->name,
			    code, sep, line);
	/* sendmail would have queued what it read: a letter cut short. */
	if (r->short_read)
		return fail(pg, PO_EPROGRAM,
			    "program %s exited without reading the whole "
			    "letter",
			    pg->name);
	return PO_OK;
}

int po_program_send(po_program *pg, po_letter *letter)
{
	struct run r;
	sigset_t pipe_set, saved, pending;
	siginfo_t info;
	const struct timespec zero = {0, 0};
	int masked = 0, was_pending = 0, result;

	if (!pg)
		return po__fail(PO_EINVAL, "po_program_send: no program");
	reset(pg);
	memset(&r, 0, sizeof r);
	r.pg = pg;
	r.pid = -1;
	r.in = r.out = r.err = -1;
	result = po_reader_new(letter, PO_RENDER_BCC, &r.reader);
	if (result) {
		result = fail(pg, result, "%s", po_last_error());
		goto out;
	}
	result = check_envelope(pg, letter);
	if (result)
		goto out;
	r.chunk = malloc(CHUNK + SCRATCH);
	if (!r.chunk) {
		result = fail(pg, PO_ENOMEM, "%s", po_strerror(PO_ENOMEM));
		goto out;
	}
	/* SIGPIPE must not reach the caller, and its disposition is the
	 * whole process's: block it in this thread, and take back a SIGPIPE
	 * our write raises unless one was pending already (libpq's way). */
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &saved);
	masked = 1;
	if (sigpending(&pending) == 0)
		was_pending = sigismember(&pending, SIGPIPE) == 1;
	result = start(&r);
	if (result)
		goto out;
	result = pump(&r);
	if (r.reaped && !r.lost) {
		if (WIFSIGNALED(r.wstatus))
			pg->exit_status = -WTERMSIG(r.wstatus);
		else if (WIFEXITED(r.wstatus))
			pg->exit_status = WEXITSTATUS(r.wstatus);
	}
	if (result == PO_ETIMEOUT)
		result = fail(pg, PO_ETIMEOUT,
			      "program %s timed out after %ld ms", pg->name,
			      pg->timeout_ms);
	else if (result == PO_OK)
		result = verdict(&r);
	else if (result != PO_ETRANSPORT)
		result = fail(pg, result, "%s", po_last_error());
out:
	close_fd(&r.in);
	close_fd(&r.out);
	close_fd(&r.err);
	if (masked) {
		if (r.epipe && !was_pending)
			while (sigtimedwait(&pipe_set, &info, &zero) < 0 &&
			       errno == EINTR)
				;
		pthread_sigmask(SIG_SETMASK, &saved, NULL);
	}
	po_reader_free(r.reader);
	free(r.chunk);
	return result;
}
