;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; send.lisp - Allegro's sending API: SEND-LETTER, SEND-SMTP,
;;; SEND-SMTP-AUTH and TEST-EMAIL-ADDRESS, and our WITH-SMTP-CONNECTION.
;;;
;;; Every argument is checked, and the whole letter built and validated
;;; in C, before any connection is made or any program run.  A letter
;;; and its C part tree live only during the call; SMTP handles made for
;;; one call are closed (QUIT) and freed before it returns.
;;;
;;; A send runs inside the restarts RETRY-SEND,
;;; CONTINUE-WITHOUT-REFUSED-RECIPIENTS, USE-MAIL-SERVER and the insecure
;;; CONTINUE-WITHOUT-TLS and CONTINUE-WITHOUT-VERIFICATION (see
;;; CALL-WITH-SEND-RESTARTS).  They are established with RESTART-CASE
;;; around a function call, so no condition is associated with them and
;;; handlers see exactly the conditions they saw without them.  Every
;;; condition is signalled after C has returned, and the restarts are
;;; hidden while C runs (*INSIDE-FOREIGN-CALL*), so invoking one never
;;; unwinds through C frames.

(in-package :net.post-office)

;;; ------------------------------------------------------------------
;;; Connections

(defstruct (smtp-connection (:constructor %make-smtp-connection)
                            (:copier nil))
  "An open SMTP session made by WITH-SMTP-CONNECTION, usable as the
mail server of SEND-LETTER and SEND-SMTP inside its body.  One thread at
a time uses it (a lock sees to that)."
  (handle nil)
  (lock (make-lock "SMTP connection"))
  (server nil)
  (login nil)
  (tracer (make-tracer))
  (tracer-key nil)
  (open-p t)
  ;; set when a send on HANDLE never returned from C (see
  ;; CALL-ABANDONED-P): the handle is unusable, and is not freed
  (abandoned nil)
  ;; the server's final reply to the last letter sent on it
  (reply nil))

(defun smtp-connection-last-reply (connection)
  "Returns the outcome of the last letter sent through CONNECTION, a
connection of WITH-SMTP-CONNECTION: the server's final reply to it as a
string (\"250 2.0.0 Ok: queued as 4BXF1\"), or NIL if none was sent yet,
the last send failed, or the letter was captured (WITH-CAPTURED-LETTERS).
For a connection WITH-SMTP-CONNECTION made of a (:FILE ...) designator,
the native name of the last .eml file written.  Like *SMTP-LAST-REPLY*,
but private to the connection."
  (etypecase connection
    (smtp-connection (smtp-connection-reply connection))
    (file-transport (file-transport-last-reply connection))))

(defmethod print-object ((connection smtp-connection) stream)
  (print-unreadable-object (connection stream :type t :identity t)
    (format stream "~a~:[ (closed)~;~]"
            (server-label (smtp-connection-server connection))
            (smtp-connection-open-p connection))))

;;; ------------------------------------------------------------------
;;; Configuring an SMTP handle

(defun timeout-ms (value)
  "The timeout in milliseconds for VALUE, a number of milliseconds from
the designator (0 for none given), falling back on *SMTP-TIMEOUT*."
  (cond ((plusp value) value)
        ((null *smtp-timeout*) 0)
        ((and (realp *smtp-timeout*) (plusp *smtp-timeout*))
         (max 1 (round (* *smtp-timeout* 1000))))
        (t (smtp-argument-error "*SMTP-TIMEOUT* must be NIL or a positive ~
number of seconds, not ~s." *smtp-timeout*))))

(defun configure-smtp (handle server login password)
  "Sets up the C SMTP HANDLE from the normalised SERVER and the
credentials LOGIN and PASSWORD.  Signals an SMTP-ARGUMENT-ERROR for
anything C refuses; nothing is sent."
  (check-status (%po-smtp-set-server handle (server-host server)
                                     (server-port server)))
  (check-status (%po-smtp-set-security handle (server-security server)))
  (check-status (%po-smtp-set-verify handle (if (server-verify server) 1 0)))
  (loop for (option . value) in (server-tls-options server)
        do (check-status (%po-smtp-set-tls-option handle option value)))
  (cond ((server-oauth-token server)
         (unless login
           (smtp-argument-error ":oauth-token needs LOGIN, the user the ~
token was issued for."))
         (check-status (%po-smtp-set-bearer handle (text-of login)
                                            (server-oauth-token server))))
        ((and login password)
         (check-status (%po-smtp-set-auth handle (text-of login)
                                          (text-of password)))))
  (when (server-mechanisms server)
    (check-status (%po-smtp-set-auth-mechanisms handle
                                                (server-mechanisms server))))
  (check-status (%po-smtp-set-timeouts handle
                                       (timeout-ms (server-connect-ms server))
                                       (timeout-ms (server-reply-ms server))
                                       (timeout-ms (server-stall-ms server))
                                       (server-total-ms server)))
  (when (server-ehlo-name server)
    (check-status (%po-smtp-set-ehlo-name handle (server-ehlo-name server))))
  (check-status (%po-smtp-set-partial-delivery
                 handle (if (server-partial-delivery server) 1 0)))
  (check-status (%po-smtp-set-require-tls
                 handle (if (server-require-tls server) 1 0)))
  handle)

(defun apply-dsn (server letter)
  "Asks for the delivery status notifications of the designator SERVER
\(:dsn-notify, :dsn-ret, :dsn-envid) on the C LETTER."
  (check-status (%po-letter-set-dsn-notify letter (server-dsn-notify server)))
  (check-status (%po-letter-set-dsn-ret letter (server-dsn-ret server)))
  (check-status (%po-letter-set-dsn-envid letter (server-dsn-envid server))))

(defun update-trace (handle tracer pointer)
  "Points TRACER at the stream *SMTP-DEBUG* designates now and turns the
trace of HANDLE on or off accordingly."
  (let ((stream (debug-stream)))
    (setf (tracer-stream tracer) stream
          (tracer-condition tracer) nil)
    (%po-smtp-set-trace handle
                        (if stream
                            (cffi:callback trace-callback)
                            (cffi:null-pointer))
                        (if stream pointer (cffi:null-pointer)))))

(defmacro call-abandoned-p ((var) form &body cleanup)
  "Evaluates FORM, a call into C that may call back into Lisp, and
returns its value.  If control leaves FORM without it returning - a
THROW or GO out of a stream method, which no handler can stop, went
through the C frames - CLEANUP runs with VAR true: the C handle in use
was left in the middle of its work and must never be used or freed
again (libcurl's state is broken; leaking it is the only safe thing)."
  (let ((value (gensym "VALUE")))
    `(let ((,var t) (,value nil))
       (unwind-protect (progn (setf ,value ,form
                                    ,var nil)
                              ,value)
         (when ,var ,@cleanup)))))

(defun send-on-handle (handle letter scope label &optional on-abandon)
  "Sends LETTER on the configured HANDLE and checks the outcome.
Returns the Message-ID, the server's final reply, whether the
credentials went unused, and the refused recipients.  ON-ABANDON is
called if the send never returned from C."
  (check-status (call-abandoned-p (abandoned)
                    (with-foreign-call (%po-smtp-send handle letter))
                  (when on-abandon (funcall on-abandon)))
                :smtp handle :scope scope :server label)
  (values (non-empty (%po-smtp-message-id handle))
          (non-empty (%po-smtp-reply handle))
          (= 1 (%po-smtp-credentials-unused handle))
          (smtp-refused-list handle)))

(defun report-outcome (credentials-unused refused label)
  "Signals the warnings a successful send may call for."
  (when credentials-unused
    (warn 'smtp-credentials-unused
          :format-control "The letter was sent without authentication: ~
the server ~a offered no AUTH, so LOGIN and PASSWORD were not used."
          :format-arguments (list label)))
  (when refused
    (warn 'smtp-recipients-refused
          :refused-recipients refused
          :format-control "The server ~a refused ~d recipient~:p; the ~
letter went to the others:~{~%  ~{~a: ~*~a~}~}"
          :format-arguments (list label (length refused) refused))))

;;; A one-shot send (Allegro's model: a connection per letter) takes an
;;; idle handle with the same settings from *HANDLE-POOL* when there is
;;; one, and puts it back afterwards.

(defconstant +handle-pool-size+ 8
  "At most this many idle handles are kept in *HANDLE-POOL*.")

(defvar *handle-pool-lock* (make-lock "SMTP handle pool")
  "Guards *HANDLE-POOL*.")

(defun handle-key (server login)
  "The settings of a handle for SERVER and LOGIN, to find an idle one
with EQUAL; no secret is in it (C compares passwords and tokens:
po_smtp_has_credentials).  NIL, meaning no pooling, when the settings
hold a secret C cannot compare (a client key's password)."
  (unless (assoc +tlsopt-key-password+ (server-tls-options server))
    (list (server-host server) (server-port server)
          (server-security server) (server-verify server)
          (server-tls-options server)
          (timeout-ms (server-connect-ms server))
          (timeout-ms (server-reply-ms server))
          (timeout-ms (server-stall-ms server))
          (server-total-ms server) (server-mechanisms server)
          (server-partial-delivery server) (server-ehlo-name server)
          (server-require-tls server)
          (and login (text-of login)))))

(defun acquire-handle (server login password)
  "An SMTP handle configured for SERVER with LOGIN and PASSWORD (or
SERVER's :OAUTH-TOKEN), sending each letter on a connection of its own:
an idle one from the pool, or a new one.  Returns the handle and its
pool key."
  (let* ((key (handle-key server login))
         (user (and login (text-of login)))
         (token (server-oauth-token server))
         (secret (and (not token) password (text-of password)))
         (idle (and key
                    (with-lock (*handle-pool-lock*)
                      (let ((entry (find-if
                                    (lambda (entry)
                                      (and (equal (car entry) key)
                                           (= 1 (%po-smtp-has-credentials
                                                 (cdr entry)
                                                 (and (or secret token) user)
                                                 secret token))))
                                    *handle-pool*)))
                        (when entry
                          (setf *handle-pool* (delete entry *handle-pool*))
                          (cdr entry)))))))
    (if idle
        (values idle key)
        (let ((handle (check-pointer (%po-smtp-new) "an SMTP handle"))
              (ok nil))
          (unwind-protect
               (progn (configure-smtp handle server login password)
                      (check-status (%po-smtp-set-keep-alive handle 0))
                      (setf ok t))
            (unless ok
              (%po-smtp-free handle)))
          (values handle key)))))

(defun release-handle (handle key)
  "Puts HANDLE back in the pool under KEY, most recently used first; the
least recently used idle handle is freed when that makes more than
+HANDLE-POOL-SIZE+ of them.  Without KEY, frees HANDLE."
  (%po-smtp-set-trace handle (cffi:null-pointer) (cffi:null-pointer))
  (let ((evicted (if key
                     (with-lock (*handle-pool-lock*)
                       (push (cons key handle) *handle-pool*)
                       (let ((tail (nthcdr (1- +handle-pool-size+)
                                           *handle-pool*)))
                         (when tail
                           (prog1 (mapcar #'cdr (rest tail))
                             (setf (rest tail) '())))))
                     (list handle))))
    (dolist (old evicted)
      (with-foreign-call (%po-smtp-free old)))))

(defun free-idle-handles ()
  "Frees the idle handles of the pool.  Each holds memory only: no
connection and no file descriptor (a connection's libcurl handles are
freed with it); a program that wants the memory back can call this.
Safe at any time: handles in use are not in the pool.
Returns the number of handles freed."
  (let ((idle (with-lock (*handle-pool-lock*)
                (shiftf *handle-pool* '()))))
    (dolist (entry idle)
      (with-foreign-call (%po-smtp-free (cdr entry))))
    (length idle)))

(defun deliver-smtp (server letter login password scope)
  "Sends LETTER to SERVER on a connection made for this call.  Returns
the Message-ID and the server's final reply."
  (multiple-value-bind (handle key) (acquire-handle server login password)
    (let ((label (server-label server))
          (tracer (make-tracer))
          (abandoned nil)
          message-id reply unused refused)
      (unwind-protect
           (progn
             (update-trace handle tracer (scope-register scope tracer))
             (setf (values message-id reply unused refused)
                   (send-on-handle handle letter scope label
                                   (lambda () (setf abandoned t)))))
        (unless abandoned
          (release-handle handle key)))
      (tracer-report tracer)
      (report-outcome unused refused label)
      (values message-id reply))))

(defun check-connection-usable (connection login password)
  "Signals an SMTP-ARGUMENT-ERROR unless a letter with the credentials
LOGIN and PASSWORD can be sent on CONNECTION: it must be open, and
credentials can only be those it was opened with."
  (when (or login password)
    ;; C compares the password: the connection keeps no copy of it
    (unless (and (equal (and login (text-of login))
                        (smtp-connection-login connection))
                 (or (null password)
                     (and (smtp-connection-handle connection)
                          (= 1 (%po-smtp-has-credentials
                                (smtp-connection-handle connection)
                                (smtp-connection-login connection)
                                (text-of password)
                                nil)))))
      (smtp-argument-error "LOGIN and PASSWORD cannot be given with a ~
connection from WITH-SMTP-CONNECTION: give them to ~
WITH-SMTP-CONNECTION.")))
  (unless (smtp-connection-open-p connection)
    (smtp-argument-error "The SMTP connection ~s is closed: it can ~
only be used inside its WITH-SMTP-CONNECTION." connection))
  (when (smtp-connection-abandoned connection)
    (error 'smtp-error
           :format-control "The SMTP connection ~a is unusable: an earlier ~
send on it was left by a non-local exit (a THROW or GO out of a stream ~
method) from inside the C library.  Open a new WITH-SMTP-CONNECTION."
           :format-arguments (list connection))))

(defun deliver-on-connection (connection letter login password scope)
  "Sends LETTER on the open CONNECTION.  Returns the Message-ID and the
server's final reply.  (DELIVER has checked the credentials.)"
  (declare (ignore login password))
  (let ((label (server-label (smtp-connection-server connection)))
        (tracer (smtp-connection-tracer connection))
        message-id reply unused refused)
    (with-lock ((smtp-connection-lock connection))
      (unless (smtp-connection-open-p connection)
        (smtp-argument-error "The SMTP connection ~s is closed: it can ~
only be used inside its WITH-SMTP-CONNECTION." connection))
      (let ((handle (smtp-connection-handle connection)))
        (update-trace handle tracer (key-pointer
                                     (smtp-connection-tracer-key connection)))
        (setf (values message-id reply unused refused)
              (send-on-handle handle letter scope label
                              (lambda ()
                                (setf (smtp-connection-abandoned connection)
                                      t))))))
    (tracer-report tracer)
    (report-outcome unused refused label)
    (values message-id reply)))

(defun call-with-smtp-connection (function mail-server login password)
  "Opens an SMTP session to MAIL-SERVER with the credentials LOGIN and
PASSWORD, calls FUNCTION with it, and closes it (QUIT) afterwards,
normally or not.  For a (:FILE ...) designator, FUNCTION is called with
the file transport instead.  Returns the values of FUNCTION."
  (when (file-designator-p mail-server)
    (return-from call-with-smtp-connection
      (funcall function (parse-file-designator mail-server))))
  (let ((server (parse-server mail-server)))
    (when (eq (server-kind server) :program)
      (smtp-argument-error "WITH-SMTP-CONNECTION needs an SMTP server, not ~
the program ~s." mail-server))
    (let* ((connection (%make-smtp-connection
                        :server server
                        :login (and login (text-of login))))
           (handle (check-pointer (%po-smtp-new) "an SMTP handle")))
      (setf (smtp-connection-handle connection) handle)
      (unwind-protect
           (progn
             (configure-smtp handle server login password)
             ;; the handle has the token now; the connection keeps none
             (forget-oauth-token server)
             (setf (smtp-connection-tracer-key connection)
                   (register-object (smtp-connection-tracer connection)))
             (funcall function connection))
        (with-lock ((smtp-connection-lock connection))
          (setf (smtp-connection-open-p connection) nil)
          (when (smtp-connection-tracer-key connection)
            (update-trace handle (smtp-connection-tracer connection)
                          (key-pointer
                           (smtp-connection-tracer-key connection))))
          (unless (smtp-connection-abandoned connection)
            (with-foreign-call (%po-smtp-free handle)))
          (setf (smtp-connection-handle connection) nil)
          (when (smtp-connection-tracer-key connection)
            (unregister-object (smtp-connection-tracer-key connection))))))))

(defmacro with-smtp-connection ((connection mail-server &key login password)
                                &body body)
  "Opens one SMTP session to MAIL-SERVER (any SMTP designator accepted by
SEND-LETTER) and executes BODY with CONNECTION bound to it.  Inside
BODY, CONNECTION can be given as the mail server of SEND-LETTER and
SEND-SMTP, and the letters then go over the same connection, which is
much faster for many letters.  LOGIN and PASSWORD are used for AUTH
whenever the server offers it.  No connection is made before the first
letter (so none at all inside WITH-CAPTURED-LETTERS).  The session is
closed (QUIT) when BODY is left, normally or not.  A connection is used
by one thread at a time: other threads wait.  A stale connection (the
server timed it out between letters) is replaced by a fresh one before
the next letter.  With a (:FILE . \"dir/\") MAIL-SERVER, CONNECTION is
bound to that file transport, so the same code can write files.
\(SMTP-CONNECTION-LAST-REPLY CONNECTION) is the server's final reply to
the last letter sent on it.  Returns the values of BODY."
  `(call-with-smtp-connection (lambda (,connection) ,@body)
                              ,mail-server ,login ,password))

;;; ------------------------------------------------------------------
;;; The program transport

(defun call-with-argv (argv function)
  "Calls FUNCTION with a foreign NULL-terminated vector of the UTF-8
strings ARGV, freed afterwards."
  (let ((vector (cffi:foreign-alloc :pointer :count (1+ (length argv))
                                             :initial-element
                                             (cffi:null-pointer)))
        (count 0))
    (unwind-protect
         (progn
           (loop for arg in argv
                 for i from 0
                 do (when (find (code-char 0) arg)
                      (smtp-argument-error "The program argument ~s ~
contains a NUL character." arg))
                    (setf (cffi:mem-aref vector :pointer i)
                          (cffi:foreign-string-alloc arg :encoding :utf-8))
                    (setf count (1+ i)))
           (funcall function vector))
      (dotimes (i count)
        (cffi:foreign-string-free (cffi:mem-aref vector :pointer i)))
      (cffi:foreign-free vector))))

(defun deliver-program (server letter scope)
  "Pipes LETTER to a run of SERVER's program, bounded by the
designator's :TIMEOUT, else *SMTP-TIMEOUT*, else the library's default
\(600 seconds).  Returns the Message-ID."
  (let ((program (check-pointer
                  (if (server-argv server)
                      (call-with-argv (server-argv server)
                                      #'%po-program-new-argv)
                      (%po-program-new-shell (server-command server)))
                  "a program handle")))
    (unwind-protect
         (let ((ms (timeout-ms (server-total-ms server))))
           (when (plusp ms)
             (%po-program-set-timeout program ms))
           (check-status (with-foreign-call (%po-program-send program letter))
                         :program program :scope scope))
      ;; Left by a non-local exit through the C frames (an interrupt, a
      ;; THROW out of a stream), the program would wait on its stdin and
      ;; then see its end: kill it first, as C does on its own errors.
      (%po-program-kill program)
      (%po-program-free program))
    (values (%po-letter-message-id letter) nil)))

;;; ------------------------------------------------------------------
;;; Letters

(defun resolve-mail-server (designator &optional attempt)
  "The connection or file transport DESIGNATOR, or DESIGNATOR normalised
into a SERVER or a FILE-TRANSPORT.  The security ATTEMPT's insecure
restarts gave up (see CONTINUE-WITHOUT-TLS) is given up in the SERVER."
  (cond ((or (smtp-connection-p designator)
             (file-transport-p designator))
         designator)
        ((file-designator-p designator)
         (parse-file-designator designator))
        (t (let ((server (parse-server designator)))
             (when attempt
               (when (and (member :no-tls (attempt-insecure attempt))
                          (= (server-security server) +tls-starttls+))
                 (setf (server-security server) +tls-starttls-try+))
               (when (member :no-verify (attempt-insecure attempt))
                 (setf (server-verify server) nil)))
             server))))

(defun deliver (server letter login password scope)
  "Sends the C LETTER to SERVER (a SERVER structure, an SMTP-CONNECTION
or a FILE-TRANSPORT), or captures it if a WITH-CAPTURED-LETTERS is
active.  Returns the Message-ID and the final reply (for the file
transport: the .eml file's name; when captured: NIL)."
  (when (smtp-connection-p server)
    (check-connection-usable server login password))
  (note-reply server nil)
  (let ((mailbox (active-mailbox)))
    (multiple-value-bind (message-id reply)
        (cond (mailbox
               (values (capture-letter mailbox letter scope) nil))
              ((file-transport-p server)
               (deliver-file server letter scope))
              ((smtp-connection-p server)
               (apply-dsn (smtp-connection-server server) letter)
               (deliver-on-connection server letter login password scope))
              ((eq (server-kind server) :program)
               (deliver-program server letter scope))
              (t
               (apply-dsn server letter)
               (deliver-smtp server letter login password scope)))
      (note-reply server reply)
      (values message-id reply))))

(defun note-reply (server reply)
  "Records REPLY, the outcome of a send to SERVER, in *SMTP-LAST-REPLY*
and, when SERVER is a connection or a file transport, in it (see
SMTP-CONNECTION-LAST-REPLY)."
  (setf *smtp-last-reply* reply)
  (typecase server
    (smtp-connection
     (with-lock ((smtp-connection-lock server))
       (setf (smtp-connection-reply server) reply)))
    (file-transport
     (setf (file-transport-last-reply server) reply))))

(defun input-stream-or-lose (stream)
  "Returns STREAM if it is an open input stream, otherwise signals an
SMTP-ARGUMENT-ERROR."
  (unless (and (input-stream-p stream) (open-stream-p stream))
    (smtp-argument-error "~s is not an open input stream." stream))
  stream)

(defun lift-content-lines (lines message)
  "Splits the header LINES (\"Name: value\" strings) given with a
string or stream MESSAGE: Allegro code sends HTML with :HEADERS
\"Content-Type: text/html\", and those fields belong to the part made
of MESSAGE (the C library refuses them among the letter's lines).
Returns the Content-Type value or NIL, the Content-Transfer-Encoding
value or NIL, and the other lines."
  (if (mime-part-constructed-p message)
      (values nil nil lines)
      (let ((type nil) (encoding nil) (others '()))
        (dolist (line lines)
          (let* ((colon (position #\: line))
                 (name (and colon (string-trim " " (subseq line 0 colon))))
                 (value (and colon (string-trim " " (subseq line
                                                            (1+ colon))))))
            (cond ((null colon)         ; for C to refuse
                   (push line others))
                  ((string-equal name "Content-Type") (setf type value))
                  ((string-equal name "Content-Transfer-Encoding")
                   (setf encoding value))
                  (t (push line others)))))
        (values type encoding (nreverse others)))))

(defun message-part (message attachments &optional content-type encoding)
  "The MIME part SEND-LETTER sends for MESSAGE, following Allegro's
rules: a string is a text part, a character stream a text part read
while sending, a binary stream an octet part; with ATTACHMENTS these are
wrapped in a new multipart/mixed.  CONTENT-TYPE and ENCODING, from the
:HEADERS lines (see LIFT-CONTENT-LINES), are those of the part made of
a string or stream.  A MIME part is used as it is, and must be
multipart/mixed if there are attachments."
  (cond ((mime-part-constructed-p message)
         (when (and attachments (not (multipart-mixed-p message)))
           (smtp-argument-error "Attachments are not allowed for ~
non-multipart/mixed messages (the message is ~a/~a)."
                                (mime-part-type message)
                                (mime-part-subtype message)))
         message)
        (t
         (let ((part (cond ((stringp message)
                            ;; the caller's Content-Transfer-Encoding is
                            ;; the one applied, or refused when the text
                            ;; does not fit it: given to C as a header
                            (make-mime-part
                             :text message
                             :content-type content-type
                             :headers (and encoding
                                           (list (cons "Content-Transfer-Encoding"
                                                       encoding)))))
                           ((streamp message)
                            (input-stream-or-lose message)
                            (if (character-stream-p message)
                                (make-text-stream-part
                                 message content-type encoding)
                                (make-mime-part :file message
                                                :content-type content-type
                                                :encoding encoding)))
                           (t
                            (smtp-argument-error "The message must be a ~
string, stream, or mime-part-constructed, not ~s." message)))))
           (if attachments
               (make-mime-part :subparts (list part))
               part)))))

(defun attachment-parts (attachments)
  "The parts for ATTACHMENTS, one item or a list: each a MIME part, or a
file name string, a pathname or a stream made into a part with
MAKE-MIME-PART :FILE."
  (mapcar (lambda (attachment)
            (cond ((mime-part-constructed-p attachment)
                   attachment)
                  ((or (stringp attachment) (pathnamep attachment))
                   (make-mime-part :file attachment))
                  ((streamp attachment)
                   (input-stream-or-lose attachment)
                   (make-mime-part :file attachment))
                  (t
                   (smtp-argument-error "Attachments must be filenames, ~
streams, or mime-part-constructed, not ~s." attachment))))
          (if (consp attachments) attachments (list attachments))))

(defun set-body (letter c-part)
  "Hands the C part tree C-PART to LETTER, freeing it if that fails."
  (let ((status (%po-letter-set-body letter c-part)))
    (unless (zerop status)
      (%po-part-free c-part)
      (po-error status))))

(defun null-sender-p (from)
  "True if FROM, the sender argument, asks for the null reverse-path:
\"\" or \"<>\" (white space around them ignored)."
  (and (stringp from)
       (member (string-trim '(#\Space #\Tab) from) '("" "<>")
               :test #'string=)
       t))

(defun header-line-named-p (line name)
  "True if the header LINE (\"Name: value\") is a field named NAME."
  (let ((colon (position #\: line)))
    (and colon (string-equal (string-right-trim '(#\Space #\Tab)
                                                (subseq line 0 colon))
                             name))))

(defun add-envelope (letter from tos ccs bccs)
  "Sets the sender FROM (\"\" or \"<>\": the null sender) and the
recipients of the C LETTER.  Each recipient string may be an address
list, which C parses."
  (cond ((null from)
         (smtp-argument-error "FROM must be an address, not NIL (\"\" ~
asks for the null sender <>)."))
        ((null-sender-p from)
         (check-status (%po-letter-set-null-sender letter)))
        (t
         (check-status (%po-letter-set-from letter (text-of from)))))
  (dolist (to tos)
    (check-status (%po-letter-add-to letter to)))
  (dolist (cc ccs)
    (check-status (%po-letter-add-cc letter cc)))
  (dolist (bcc bccs)
    (check-status (%po-letter-add-bcc letter bcc))))

(defmacro with-letter ((var) &body body)
  "Executes BODY with VAR bound to a new C letter, freed afterwards."
  `(let ((,var (check-pointer (%po-letter-new) "a letter")))
     (unwind-protect (progn ,@body)
       (%po-letter-free ,var))))

;;; ------------------------------------------------------------------
;;; Restarts

(defstruct (attempt (:constructor make-attempt (mail-server replayable)))
  "The state of one SEND-LETTER or SEND-SMTP call across its tries: the
MAIL-SERVER designator of the next try, whether the letter can be built
again (REPLAYABLE: no stream is read for it), how far the current try
got (PHASE: :SERVER, :BUILD or :DELIVER), its C LETTER (valid while the
try runs), the envelope recipients it had when a recipient was refused,
the SMTP-ERROR it signalled, and the recipients DROPPED after
refusals, and the security the insecure restarts gave up (INSECURE)."
  mail-server
  replayable
  (phase :server)
  (letter nil)
  (envelope '())
  (error nil)
  (dropped '())
  ;; what the user gave up at the REPL: :NO-TLS, :NO-VERIFY
  (insecure '()))

(defun replayable-p (thing &optional ancestors)
  "True if a letter made of THING (a message, an attachment, a MIME
part, or a list of them) can be built and sent again: no stream is read
for it.  A tree deeper than the library takes (which BUILD-C-PART
refuses) is not followed down: the recursion stays shallow."
  (typecase thing
    (stream nil)
    (cons (every (lambda (item) (replayable-p item ancestors))
                 (if (null (cdr (last thing))) thing (list thing))))
    (mime-part-constructed
     (or (member thing ancestors)
         (and (not (eq (source-type thing) :stream))
              (< (length ancestors) +max-depth+)
              (replayable-p (mime-part-parts thing)
                            (cons thing ancestors)))))
    (t t)))

(defun refused-addresses (condition)
  "The addresses the SMTP-RECIPIENT-ERROR CONDITION lists as refused."
  (mapcar #'first (smtp-error-refused-recipients condition)))

(defun remaining-recipients (attempt condition)
  "The envelope recipients of ATTEMPT's current try that CONDITION did
not refuse."
  (set-difference (attempt-envelope attempt) (refused-addresses condition)
                  :test #'string-equal))

(defun restart-offered-p (restart attempt condition)
  "True if the send restart named RESTART applies to CONDITION (NIL
when the restart is looked up without one) in ATTEMPT: only for an
SMTP-ERROR its current try signalled, never while C runs, and only
where trying again can help (see the restart functions' documentation)."
  (let ((error (cond ((typep condition 'smtp-error) condition)
                     ((null condition) (attempt-error attempt))))
        (phase (attempt-phase attempt))
        (replayable (attempt-replayable attempt)))
    (and error
         (eq error (attempt-error attempt))
         (not *inside-foreign-call*)
         (ecase restart
           (retry-send
            (or (typep error 'smtp-file-error)
                (and (eq phase :deliver) replayable
                     ;; 5yz: the same letter would fail the same way
                     (not (typep error 'smtp-permanent-error))
                     ;; the server may have it already: a blanket
                     ;; handler must not send it twice
                     (not (smtp-error-outcome-unknown error)))))
           (use-mail-server
            (or (and (eq phase :server)
                     (typep error 'smtp-argument-error))
                (and (eq phase :deliver) replayable
                     (not (typep error 'smtp-argument-error)))))
           (continue-without-refused-recipients
            (and (eq phase :deliver) replayable
                 (typep error 'smtp-recipient-error)
                 (refused-addresses error)
                 (remaining-recipients attempt error)
                 t))
           ;; only for a designator the next try can change (not a
           ;; connection of WITH-SMTP-CONNECTION)
           (continue-without-tls
            (and (eq phase :deliver) replayable
                 (eq (smtp-error-status error) :estarttls)
                 (not (smtp-connection-p (attempt-mail-server attempt)))))
           (continue-without-verification
            (and (eq phase :deliver) replayable
                 (eq (smtp-error-status error) :ecert)
                 (not (smtp-connection-p
                       (attempt-mail-server attempt)))))))))

(defun read-mail-server ()
  "Asks on *QUERY-IO* for a mail server designator, reads and evaluates
it, and returns it in a list: the :INTERACTIVE function of
USE-MAIL-SERVER."
  (format *query-io* "~&Mail server designator (evaluated), e.g. ~
\(\"smtp.example.com\" :port 587 :starttls t): ")
  (finish-output *query-io*)
  (list (eval (read *query-io*))))

(defun call-with-send-restarts (mail-server replayable function)
  "Calls FUNCTION with an ATTEMPT for MAIL-SERVER inside the restarts
RETRY-SEND, CONTINUE-WITHOUT-REFUSED-RECIPIENTS, USE-MAIL-SERVER,
CONTINUE-WITHOUT-TLS and CONTINUE-WITHOUT-VERIFICATION,
calling it again each time one of them is invoked.  REPLAYABLE says
whether the letter can be built again.  Returns the values of the call
that succeeds."
  (let ((attempt (make-attempt mail-server replayable)))
    ;; a send that fails, even on its arguments, leaves no reply behind
    (setf *smtp-last-reply* nil)
    (loop
      (setf (attempt-phase attempt) :server
            (attempt-letter attempt) nil
            (attempt-envelope attempt) '()
            (attempt-error attempt) nil)
      (restart-case
          (handler-bind ((smtp-error
                           (lambda (condition)
                             ;; remember it for the restarts; decline
                             (setf (attempt-error attempt) condition)
                             ;; the letter is alive while it is signalled
                             (when (and (typep condition
                                               'smtp-recipient-error)
                                        (attempt-letter attempt))
                               (setf (attempt-envelope attempt)
                                     (nth-value 1 (letter-envelope
                                                   (attempt-letter
                                                    attempt))))))))
            (return-from call-with-send-restarts
              (funcall function attempt)))
        (retry-send ()
          :report "Try to send the letter again."
          :test (lambda (condition)
                  (restart-offered-p 'retry-send attempt condition))
          nil)
        (continue-without-refused-recipients ()
          :report (lambda (stream)
                    (let ((refused (ignore-errors
                                    (refused-addresses
                                     (attempt-error attempt)))))
                      (format stream "Send the letter again without the ~
refused recipient~p ~{~a~^, ~}." (length refused) refused)))
          :test (lambda (condition)
                  (restart-offered-p 'continue-without-refused-recipients
                                     attempt condition))
          (setf (attempt-dropped attempt)
                (append (attempt-dropped attempt)
                        (refused-addresses (attempt-error attempt)))))
        (use-mail-server (designator)
          :report "Send the letter through another mail server (you ~
give its designator)."
          :interactive read-mail-server
          :test (lambda (condition)
                  (restart-offered-p 'use-mail-server attempt condition))
          (setf (attempt-mail-server attempt) designator))
        (continue-without-tls ()
          :report "Send this letter without TLS: in clear text, ~
credentials included, as :starttls :try does when the server offers no ~
STARTTLS (insecure)."
          :test (lambda (condition)
                  (restart-offered-p 'continue-without-tls attempt
                                     condition))
          (pushnew :no-tls (attempt-insecure attempt)))
        (continue-without-verification ()
          :report "Send this letter without verifying the server's ~
certificate, as :verify nil does (insecure: anyone in the path can ~
read it)."
          :test (lambda (condition)
                  (restart-offered-p 'continue-without-verification attempt
                                     condition))
          (pushnew :no-verify (attempt-insecure attempt)))))))

(defun drop-recipients (letter attempt)
  "Removes from the C LETTER (envelope, To and Cc alike) the recipients
ATTEMPT dropped after refusals."
  (dolist (address (attempt-dropped attempt))
    (%po-letter-remove-recipient letter address)))

;;; ------------------------------------------------------------------
;;; The API

(defun send-letter (mail-server from to message
                    &key subject reply-to cc bcc headers login password
                         attachments)
  "Sends a letter with MESSAGE as its body from FROM to TO, through
MAIL-SERVER, and returns its Message-ID, a string such as
\"<20250131235959.0a1b2c3d4e5f60718293@example.com>\" (true, as
Allegro's T is), once the server accepted it (or the program ran
successfully); otherwise signals an SMTP-ERROR.

MAIL-SERVER is \"host\" (port 25), \"host:port\", an IPv4 address as a
dotted string or an integer, an IPv6 address as a string (\"::1\") or a
vector of 16 octets, (\"host\" . port), or (\"host\" :port p :ssl t
:starttls t ...) with Allegro's TLS options (:method, :certificate,
:key, :certificate-password, :ca-file, :ca-directory, :crl-file,
:crl-check, :ciphers, :ciphersuites, :max-depth, :verify, :server-name)
and ours (:starttls :try, :verify nil, :timeout, :connect-timeout,
:reply-timeout, :total-timeout, :auth-mechanism, :oauth-token,
:partial-delivery, :ehlo-name); the port defaults to 25, or 465 with
:ssl.  Certificates are verified unless :verify is nil, and :starttls t
fails unless the server offers STARTTLS.  MAIL-SERVER may also be
\(:program . \"command args\") (run by /bin/sh) or (:program \"program\"
\"arg\" ...) (run directly), which gets the letter on its standard input
\(with a Bcc: header when there are Bcc recipients); its whole run is
bounded by :timeout seconds after the strings, as in (:program
\"/usr/sbin/sendmail\" \"-t\" \"-i\" :timeout 30), or (:program :command
\"command args\" :timeout 30) for the shell, else by *SMTP-TIMEOUT*,
else by 600 seconds; a program that does not finish in time, or whose
letter could not be rendered to the end, is killed (SIGKILL) before it
can read the end of its input.  MAIL-SERVER may also be a connection
from WITH-SMTP-CONNECTION, or (:file . \"directory/\"), which writes the
letter into that directory (created if missing) as NAME.eml (its exact
octets) and NAME.envelope (a MAIL FROM line and one RCPT TO line per
recipient), NAME being the time, a counter and the process id.  The
list is never modified.  Inside WITH-CAPTURED-LETTERS the letter goes
nowhere and is captured instead.

FROM is the sender, TO a recipient address or a non-empty list of them;
CC and BCC are NIL, an address or a list; BCC addresses do not appear
in the letter.  An address may be \"a@b.example\", \"Name
<a@b.example>\", \"\\\"Doe, Jane\\\" <j@b.example>\" or a bare local part
such as \"root\" (Allegro's \"foo\"), sent as it is (MAIL FROM:<root>)
for the server to qualify.  A string may hold an address list,
\"a@b.example, Carol <c@b.example>\": every address in it is a
recipient; in a list of two or more every address needs a domain, so an
unquoted comma in a name (\"Doe, Jane <j@b.example>\") is an error that
says to quote the name.  FROM \"\" (or \"<>\") is the null sender,
MAIL FROM:<> (for bounces): the From field must then come from HEADERS.
SUBJECT and REPLY-TO, when non-NIL, are printed with
~A into Subject and Reply-To (non-ASCII text is encoded).  HEADERS is a
header line (\"Name: value\") or a list of them, added as they are
\(a single trailing newline is removed and folded lines are unfolded;
other line breaks are an error, as is a header Allegro would have let
end the header block early).  A line for a field the letter has (From,
To, Cc, Subject, Reply-To, Date, Message-ID) replaces it, the envelope
staying as given; with a string or stream MESSAGE, Content-Type and
Content-Transfer-Encoding lines are those of its part (Allegro's way to
send HTML; a Content-Transfer-Encoding the string does not fit, such as
7bit for non-ASCII text, is an error, not silently another encoding); a
Bcc line, and other Content-* lines, are errors.  With a (:PROGRAM ...)
MAIL-SERVER the To, Cc and Resent-* lines are the envelope (sendmail -t
reads them): one naming an address that is not a recipient, or leaving a
recipient out, is an SMTP-ARGUMENT-ERROR.  A Date and a Message-ID are
added unless supplied.

MESSAGE is a string (a text/plain part in UTF-8), a character stream
\(text read to its end, neither closed nor rewound), a binary stream (an
application/octet-stream part), or a MIME part from MAKE-MIME-PART,
whose own From, To, Cc, Subject and Reply-To headers win over the
arguments.  ATTACHMENTS is one item or a list of file names, pathnames,
streams or MIME parts; with a string or stream MESSAGE the body becomes
a multipart/mixed of the message and the attachments; a MIME part
MESSAGE must then be multipart/mixed, and the attachments follow its
subparts (the part itself is not modified).

LOGIN and PASSWORD are used for AUTH whenever the server offers it; a
warning of type SMTP-CREDENTIALS-UNUSED is signalled when it does not.

Every argument is checked before any connection is made.  While the
letter is sent, the restarts RETRY-SEND, USE-MAIL-SERVER and
CONTINUE-WITHOUT-REFUSED-RECIPIENTS are offered where they help (not
for a letter that reads a stream), and, for a user at the REPL who
decides knowingly, CONTINUE-WITHOUT-TLS (:starttls t, no STARTTLS
offered) and CONTINUE-WITHOUT-VERIFICATION (an untrusted certificate),
which the library never takes by itself.  Returns exactly one value, the
Message-ID, so that (multiple-value-bind (ok error) (ignore-errors
\(send-letter ...)) ...) works as with Allegro.  The server's final reply
\(with its queue id) is then in *SMTP-LAST-REPLY*, and for a connection
of WITH-SMTP-CONNECTION in (SMTP-CONNECTION-LAST-REPLY connection)."
  (call-with-send-restarts
   mail-server (replayable-p (list message attachments))
   (lambda (attempt)
     (send-letter-1 attempt from to message subject reply-to cc bcc
                    headers login password attachments))))

(defun send-letter-1 (attempt from to message subject reply-to cc bcc
                      headers login password attachments)
  "One try of SEND-LETTER, to the mail server of ATTEMPT."
  (let ((server (resolve-mail-server (attempt-mail-server attempt)
                                     attempt)))
    (setf (attempt-phase attempt) :build)
    (multiple-value-bind (content-type encoding lines)
        (lift-content-lines (header-lines headers) message)
      (send-letter-2 attempt server from to message subject reply-to cc
                     bcc lines login password attachments content-type
                     encoding))))

(defun send-letter-2 (attempt server from to message subject reply-to cc
                      bcc lines login password attachments content-type
                      encoding)
  "The rest of SEND-LETTER-1, once SERVER is known and the header LINES
are split (LIFT-CONTENT-LINES)."
  (let* ((part (message-part message attachments content-type encoding))
         (tos (recipient-list to "to" t))
         (ccs (recipient-list cc "cc"))
         (bccs (recipient-list bcc "bcc"))
         (extra (and attachments (attachment-parts attachments)))
         (reply-tos (cond ((null reply-to) nil)
                          ((consp reply-to)
                           (mapcar #'text-of reply-to))
                          (t (list (text-of reply-to))))))
    (when (and (null-sender-p from)
               (not (mime-part-constructed-p message))
               (notany (lambda (line) (header-line-named-p line "From"))
                       lines))
      (smtp-argument-error "FROM is ~s, the null sender <>: the letter ~
then needs its From field in :HEADERS, e.g. :headers \"From: Mail ~
Delivery System <postmaster@example.com>\"." from))
    (with-scope (scope)
      (with-letter (letter)
        (add-envelope letter from tos ccs bccs)
        (drop-recipients letter attempt)
        (setf (attempt-letter attempt) letter)
        (when subject
          (check-status (%po-letter-set-subject letter
                                                (text-of subject))))
        (dolist (address reply-tos)
          (check-status (%po-letter-add-reply-to letter address)))
        (dolist (line lines)
          (check-status (%po-letter-add-header-line letter line)))
        (set-body letter (build-c-part part scope extra))
        (setf (attempt-phase attempt) :deliver)
        (or (deliver server letter login password scope)
            (%po-letter-message-id letter))))))

(defun send-smtp-1 (mail-server from to login password messages)
  "The body of SEND-SMTP and SEND-SMTP-AUTH."
  (call-with-send-restarts
   mail-server (replayable-p messages)
   (lambda (attempt)
     (send-smtp-attempt attempt from to login password messages))))

(defun send-smtp-attempt (attempt from to login password messages)
  "One try of SEND-SMTP, to the mail server of ATTEMPT."
  (let* ((server (resolve-mail-server (attempt-mail-server attempt)
                                      attempt))
         (tos (progn (setf (attempt-phase attempt) :build)
                     (recipient-list to "to" t))))
    (when (and (server-p server) (eq (server-kind server) :program))
      (smtp-argument-error "SEND-SMTP and SEND-SMTP-AUTH speak SMTP only: ~
use SEND-LETTER with the mail server ~s." (attempt-mail-server attempt)))
    (dolist (message messages)
      (typecase message
        ((or null string (vector (unsigned-byte 8))))
        (stream (input-stream-or-lose message))
        (t (smtp-argument-error "The messages must be strings or streams, ~
not ~s." message))))
    (with-scope (scope)
      (with-letter (letter)
        (add-envelope letter from tos nil nil)
        (drop-recipients letter attempt)
        (setf (attempt-letter attempt) letter)
        (let ((source (make-source messages :sniff-header t)))
          (check-status (%po-letter-set-raw-reader
                         letter (cffi:callback read-callback)
                         (scope-register scope source)))
          (setf (attempt-phase attempt) :deliver)
          (deliver server letter login password scope)
          (or (source-message-id source) t))))))

(defun send-smtp (mail-server from to &rest messages)
  "Sends the concatenation of MESSAGES, a pre-formatted letter (header
and body), from FROM to TO through MAIL-SERVER (any SMTP designator of
SEND-LETTER, or a connection from WITH-SMTP-CONNECTION; not a
program), or (:file . \"directory/\") as for SEND-LETTER; inside
WITH-CAPTURED-LETTERS the letter is captured instead.  No header is
added.  Each message is a string (sent as UTF-8), a character stream or
a binary stream (read to its end, e.g. the stream of
WITH-MIME-PART-CONSTRUCTED-STREAM), a vector of octets, or NIL, which
is skipped.  Line endings become CRLF.  TO is an address or a
non-empty list of them, as for SEND-LETTER (address lists and bare
local parts included); FROM \"\" or \"<>\" sends MAIL FROM:<>, the null
reverse-path of bounces and of relayed letters whose stored envelope
had it.  The restarts of SEND-LETTER are offered
likewise.  Returns exactly one value: the Message-ID of the letter if
its header has one, else T; the server's final reply is then in
*SMTP-LAST-REPLY* (and SMTP-CONNECTION-LAST-REPLY).  Signals an
SMTP-ERROR on failure."
  (send-smtp-1 mail-server from to nil nil messages))

(defun send-smtp-auth (mail-server from to login password &rest messages)
  "Like SEND-SMTP, and uses LOGIN and PASSWORD for AUTH whenever the
server offers it.  Returns the letter's Message-ID if its header has
one, else T; the server's final reply is then in *SMTP-LAST-REPLY*."
  (send-smtp-1 mail-server from to login password messages))

;;; ------------------------------------------------------------------
;;; TEST-EMAIL-ADDRESS

(defparameter *connection-statuses*
  '(:edns :econnect :etls :ecert :estarttls :egreeting :ehelo :eauth
    :eauthmech :etimeout :etransport :eprotocol)
  "The statuses meaning that a connection could not be set up.")

(defun vrfy (handle what)
  "Sends VRFY WHAT on HANDLE.  Returns the reply code, :UNREACHABLE if
no connection could be made, or -1 if it was lost during VRFY."
  (cffi:with-foreign-object (result :int)
    (let ((status (%po-smtp-vrfy handle what result)))
      (cond ((zerop status)
             (%po-smtp-reply-code handle))
            ((let ((command (%po-smtp-command handle)))
               (and command (string-prefix-p "VRFY" (string-upcase command))))
             -1)
            ((member (status-keyword status) *connection-statuses*)
             :unreachable)
            (t -1)))))

(defun inet-aton-number-p (label)
  "True if LABEL is a number as inet_aton(3) reads the parts of an IPv4
address: decimal, octal (a leading 0) or hexadecimal (0x...)."
  (and (plusp (length label))
       (if (and (> (length label) 1) (char-equal (char label 1) #\x)
                (char= (char label 0) #\0))
           (every (lambda (c) (digit-char-p c 16)) (subseq label 2))
           (every #'digit-char-p label))))

(defun ip-address-domain-p (domain)
  "True if the ASCII DOMAIN is an address rather than a name: an address
literal (\"[192.0.2.1]\"), or what the resolver would take as an IPv4
address (\"127.0.0.1\", \"127.1\", \"2130706433\", \"0x7f.1\"), or a
name whose last label is all digits (no top-level domain is)."
  (or (and (plusp (length domain)) (char= (char domain 0) #\[))
      (let ((labels (split-string domain #\.)))
        (or (and (<= (length labels) 4)
                 (every #'inet-aton-number-p labels))
            (every #'digit-char-p (car (last labels)))))))

(defun literal-host (domain)
  "The host to connect to for the address literal or IP-address DOMAIN."
  (if (char= (char domain 0) #\[)
      (let ((inside (subseq domain 1 (1- (length domain)))))
        (if (string-prefix-p "IPv6:" inside)
            (subseq inside 5)
            inside))
      domain))

(defun vrfy-target (address)
  "The envelope form of ADDRESS, one address checked by the C library's
parser, split: its local part and domain (NIL for a bare local part).
NIL if ADDRESS is not one valid address."
  (with-letter (letter)
    (when (and (zerop (%po-letter-add-to letter address))
               (= 1 (%po-letter-recipient-count letter)))
      (let* ((spec (%po-letter-recipient letter 0))
             (at (position #\@ spec :from-end t)))
        (values spec
                (if at (subseq spec 0 at) spec)
                (and at (subseq spec (1+ at))))))))

(defun test-email-address (address)
  "Returns true if ADDRESS (\"user@host\", or \"user\" for the local
host) could be a valid address, by asking the mail server of its host
\(port 25) with VRFY: first the local part, then, if the server says
550 to that, the whole address; NIL if the server says it is unknown, if
no connection could be made, or if ADDRESS is not one valid address.
Servers that do not implement VRFY make it return T.  Deprecated, as in
Allegro CL: most servers do not answer VRFY truthfully.

ADDRESS is untrusted input (a sign-up form), so it is never a way to
reach an arbitrary service: it goes through the same parser as every
address, so a port or a path in it (\"probe@127.0.0.1:39119\") makes it
invalid (NIL, nothing connected to, where Allegro connects to that
port); and a domain that is an address literal (\"user@[192.0.2.1]\")
or an IP address (\"user@127.0.0.1\") is refused the same way unless
*TEST-EMAIL-ADDRESS-LITERALS* is true.  Names are looked up as usual,
and only port 25 is used.  When *TEST-EMAIL-ADDRESS-SERVER* is a mail
server designator, every VRFY goes there instead (your own MTA), and
the address's domain is never connected to."
  (unless (and (stringp address) (plusp (length address)))
    (smtp-argument-error "The address must be a non-empty string, not ~s."
                         address))
  (multiple-value-bind (spec local domain) (vrfy-target address)
    (unless spec
      (return-from test-email-address nil))
    (let ((designator *test-email-address-server*))
      (cond (designator)
            ((null domain)
             (setf designator "localhost"))
            ((ip-address-domain-p domain)
             (unless *test-email-address-literals*
               (return-from test-email-address nil))
             (setf designator (list (literal-host domain) :port 25)))
            (t (setf designator (list domain :port 25))))
      (let ((server (handler-case (parse-server designator)
                      (smtp-error (e)
                        (if *test-email-address-server*
                            (error e)
                            (return-from test-email-address nil)))))
            (handle (check-pointer (%po-smtp-new) "an SMTP handle"))
            (tracer (make-tracer)))
        (when (eq (server-kind server) :program)
          (smtp-argument-error "*TEST-EMAIL-ADDRESS-SERVER* must be an SMTP ~
server, not the program ~s." designator))
        (with-scope (scope)
          (unwind-protect
               (progn
                 (handler-case (configure-smtp handle server nil nil)
                   (smtp-error ()
                     (return-from test-email-address nil)))
                 (update-trace handle tracer (scope-register scope tracer))
                 ;; one handle, so one connection where the server and
                 ;; the engine allow (see the report: libcurl 7.88 closes
                 ;; it after a 5yz reply)
                 (let ((code (vrfy handle local)))
                   (cond ((eq code :unreachable) nil)
                         ((/= code 550) t)
                         (t (not (eql (vrfy handle spec) 550))))))
            (with-foreign-call (%po-smtp-free handle))))))))

;;; ------------------------------------------------------------------
;;; REQUIRE

;;; Allegro code starts with (require :smtp), and mail filters that only
;;; decode headers with (require :mime): once this system is loaded both
;;; are no-ops.  Before it is, (require :smtp) loads it through ASDF's
;;; module provider (SBCL, ECL, CCL), as any ASDF system.
(provide :smtp)
(provide :mime)
