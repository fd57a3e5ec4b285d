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
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "po_private.h"

#define KEEP_MAX (64 * 1024) /* bytes of stdout and of stderr kept */
#define CHUNK (64 * 1024)    /* rendered bytes per refill: a pipe's buffer */
#define SCRATCH (16 * 1024)  /* bytes per read of stdout or stderr */
#define GRACE_MS 1000        /* from SIGTERM to SIGKILL on a timeout */
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
	if (!pg)
		return;
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

/* Between fork and exec.  fd: the ends that become 0, 1 and 2; report:
 * where to write errno if the program cannot be started; dfl and none:
 * made ready by the parent, since memset is not async-signal-safe. */
_Noreturn static void child(const po_program *pg, int fd[3], int report,
			    const struct sigaction *dfl,
			    const sigset_t *none)
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
	/* Our own process group, so that a kill reaches the programs a
	 * shell started too: a sendmail left alive after its shell was
	 * killed would see a clean end of input and send a truncated
	 * letter. */
	if (setpgid(0, 0) < 0)
		goto fail;
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

/* waitpid on our child only: the host may have children of its own. */
static int reap(struct run *r, int flags)
{
	pid_t p;

	if (r->reaped)
		return 1;
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
	int rep[2] = {-1, -1}, fd[3], e = 0, result = PO_OK;
	struct sigaction dfl;
	sigset_t all, none, saved;
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
	/* No handler of the caller may run in the child before exec. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &saved);
	r->pid = fork();
	if (r->pid == 0)
		child(pg, fd, rep[1], &dfl, &none);
	e = errno;
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
	int nfds, in_i, out_i, err_i, wait, n, idle, terminating = 0, rc;

	if (r->pg->timeout_ms > 0)
		deadline = now_ms() + r->pg->timeout_ms;
	r->tick = 1;
	for (;;) {
		if (!terminating) {
			rc = feed(r);
			if (rc) {
				abort_run(r);
				return rc;
			}
		}
		nfds = 0;
		in_i = out_i = err_i = -1;
		if (r->in >= 0) {
			/* With no events, poll still reports POLLERR. */
			in_i = nfds++;
			pfd[in_i].fd = r->in;
			pfd[in_i].events = 0;
			if (r->state == IN_WRITE && !terminating)
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
		idle = r->state != IN_WRITE || terminating;
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
			return terminating ? PO_ETIMEOUT : PO_OK;
		}
		if (deadline && now_ms() >= deadline) {
			if (terminating) {
				abort_run(r);
				return PO_ETIMEOUT;
			}
			/* stdin stays open: a program that sees its end
			 * while handling SIGTERM might send what it has. */
			signal_program(r, SIGTERM);
			terminating = 1;
			deadline = now_ms() + GRACE_MS;
			r->tick = 1;
		}
	}
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
