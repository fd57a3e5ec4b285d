/* fixture.h - run the Python fixture servers (fixtures/smtpd.py,
 * fixtures/faultd.py) from C tests.  See fixtures/README.md.
 *
 * Tests run from the repository root; the servers are started as
 * "/usr/bin/python3 fixtures/<script>.py" (override the interpreter with
 * $PO_FIXTURE_PYTHON and the directory with $PO_FIXTURE_DIR).
 *
 * Every function prints a one-line reason to stderr when it fails.  Set
 * $PO_FIXTURE_KEEP=1 to keep the message directories for inspection.
 */
#ifndef PO_FIXTURE_H
#define PO_FIXTURE_H

#include <stddef.h>
#include <sys/types.h>

typedef struct fixture {
	pid_t pid;      /* the server process, 0 when not running */
	int stdin_fd;   /* write end of the server's stdin; closing it stops it */
	int port;       /* the port it listens on (127.0.0.1 by default) */
	char dir[256];  /* its message directory (NNNN.eml, NNNN.json...) */
} fixture;

/* fixture_certs - create the test certificates (fixtures/certs.sh) in a
 * temporary directory, once per process, and copy its path to dir_out.
 * The directory is removed when the process exits.
 * Returns 0, or -1 on failure. */
int fixture_certs(char *dir_out, size_t n);

/* fixture_start - start fixtures/<script>.py ("smtpd" or "faultd") with
 * --dir <fresh temp dir> --port 0 and the extra arguments args (a
 * NULL-terminated array, may be NULL), wait (at most 10 s) for its
 * "READY <port>" line and fill *f.
 * Returns 0, or -1 on failure (then *f holds nothing to stop). */
int fixture_start(fixture *f, const char *script, const char *const *args);

/* fixture_stop - stop the server (EOF on stdin, SIGTERM, SIGKILL after 5 s
 * if need be), reap it and remove its directory.  Safe to call twice. */
void fixture_stop(fixture *f);

/* fixture_wait_messages - wait until at least count messages (NNNN.json
 * files) exist, polling for at most timeout_ms.
 * Returns the number of messages present when it returned (so the wait
 * succeeded when the result is >= count); count 0 just counts. */
int fixture_wait_messages(fixture *f, int count, int timeout_ms);

/* fixture_read - read the file DIR/name (e.g. "0001.eml") into a malloc'd,
 * NUL-terminated buffer; *len (if len is not NULL) gets its size without
 * the NUL.  Returns NULL if it does not exist. */
char *fixture_read(fixture *f, const char *name, size_t *len);

/* fixture_transcript - faultd's transcript of connection conn (1-based),
 * DIR/conn-<conn>.log, malloc'd.  Waits up to 3 s for the connection to
 * end (its "* end" line), so call it once the client is done with the
 * connection.  Returns NULL if there is no such connection. */
char *fixture_transcript(fixture *f, int conn);

/* fixture_transcript_wait - the same with an explicit wait in ms for the
 * connection to end (0: return what is there now). */
char *fixture_transcript_wait(fixture *f, int conn, int timeout_ms);

#endif
