;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; conditions.lisp - the conditions this system signals.
;;;
;;; Allegro's mail code signals plain SIMPLE-ERRORs.  Ours are subclasses
;;; of SIMPLE-ERROR too, so existing (HANDLER-CASE ... (ERROR ...)) and
;;; (SIMPLE-ERROR ...) clauses keep working, and their report (the
;;; format control and arguments) carries the same content: the
;;; offending value, the command and the server's reply.  No report ever
;;; contains a password or a token.
;;;
;;;   smtp-condition
;;;     smtp-error (simple-error)
;;;       smtp-argument-error         bad input, before any connection
;;;         smtp-file-error (file-error)
;;;       smtp-input-error            a stream or file failed while sending
;;;       smtp-connection-error       DNS, connect, timeout, lost, protocol
;;;         smtp-tls-error            TLS, certificate, STARTTLS
;;;       smtp-authentication-error   AUTH failed, no usable mechanism
;;;       smtp-transaction-error      the server refused a command
;;;         smtp-transient-error      4yz
;;;         smtp-permanent-error      5yz
;;;         smtp-recipient-error      refused recipients
;;;           smtp-transient-recipient-error
;;;           smtp-permanent-recipient-error
;;;       smtp-program-error          the :program failed
;;;         smtp-program-not-found
;;;     smtp-warning (simple-warning)
;;;       smtp-credentials-unused
;;;       smtp-recipients-refused
;;;
;;; The report of an error from the C library ends with hints: what to
;;; try for the failure at hand (CONDITION-HINTS).  Also here: the
;;; functions named after the restarts SEND-LETTER and SEND-SMTP
;;; establish (RETRY-SEND, CONTINUE-WITHOUT-REFUSED-RECIPIENTS,
;;; USE-MAIL-SERVER, and the insecure CONTINUE-WITHOUT-TLS and
;;; CONTINUE-WITHOUT-VERIFICATION), which invoke them as CONTINUE
;;; invokes CONTINUE.

(in-package :net.post-office)

(define-condition smtp-condition (condition)
  ()
  (:documentation "Superclass of every condition signalled by the smtp
system."))

(defun unsafe-char-p (char)
  "True if CHAR, printed to a terminal, could act on it or change how the
text around it shows: a control character other than tab and newline
\(C0, DEL and C1: CSI is U+009B), a bidirectional control, a line or
paragraph separator."
  (let ((code (char-code char)))
    (or (and (< code 32) (/= code 9) (/= code 10))
        (<= 127 code 159)
        (= code #x61c) (= code #x200e) (= code #x200f)
        (<= #x2028 code #x202e)
        (<= #x2066 code #x2069))))

(defun printable-text (string)
  "STRING with every character UNSAFE-CHAR-P finds written as \\xHH (up
to U+00FF) or \\u{HHHH}, so that text a server or a program sent can be
printed: an escape sequence in a reply must not reach the terminal of a
REPL or a log viewer.  Returns STRING itself when it needs nothing."
  (if (notany #'unsafe-char-p string)
      string
      (with-output-to-string (out)
        (loop for char across string
              do (if (unsafe-char-p char)
                     (if (< (char-code char) 256)
                         (format out "\\x~2,'0X" (char-code char))
                         (format out "\\u{~4,'0X}" (char-code char)))
                     (write-char char out))))))

(defun report-message (condition stream)
  "Prints the format control and arguments of CONDITION to STREAM through
PRINTABLE-TEXT: the text of a server or a program is in it, shown
safely, while the readers keep it as it came."
  (write-string (printable-text
                 (format nil "~?"
                         (simple-condition-format-control condition)
                         (simple-condition-format-arguments condition)))
                stream))

(define-condition smtp-error (smtp-condition simple-error)
  ((status :initarg :status
           :initform nil
           :reader smtp-error-status)
   (server :initarg :server
           :initform nil
           :reader smtp-error-server)
   (command :initarg :command
            :initform nil
            :reader smtp-error-command)
   (code :initarg :code
         :initform nil
         :reader smtp-error-code)
   (enhanced-code :initarg :enhanced-code
                  :initform nil
                  :reader smtp-error-enhanced-code)
   (reply :initarg :reply
          :initform nil
          :reader smtp-error-reply)
   (outcome-unknown :initarg :outcome-unknown
                    :initform nil
                    :reader smtp-error-outcome-unknown))
  (:report (lambda (condition stream)
             (report-message condition stream)
             (report-hints condition stream)))
  (:documentation "All errors signalled by the smtp system are of this
type.  It is a SIMPLE-ERROR, like the errors Allegro CL signals, whose
report explains what failed, what the server said, and, for failures
the C library reports, what to try.  The readers SMTP-ERROR-STATUS,
SMTP-ERROR-SERVER, SMTP-ERROR-COMMAND, SMTP-ERROR-CODE,
SMTP-ERROR-ENHANCED-CODE, SMTP-ERROR-REPLY and
SMTP-ERROR-OUTCOME-UNKNOWN give the details that apply, NIL
otherwise."))

(setf (documentation 'smtp-error-status 'function)
      "Returns the libpostoffice status of the SMTP-ERROR CONDITION as a
keyword named after the C code without its PO_ prefix, e.g. :ERECIPIENT,
:ECONNECT or :ECERT, or NIL when the error was found in Lisp."
      (documentation 'smtp-error-server 'function)
      "Returns the server the SMTP-ERROR CONDITION is about, as a string
\"host:port\", or NIL."
      (documentation 'smtp-error-command 'function)
      "Returns the SMTP command the failing reply of the SMTP-ERROR
CONDITION answered, e.g. \"RCPT TO:<x@y.example>\", \"DATA\" or \".\"
for the end of the message, or NIL.  Secrets in AUTH commands are
masked."
      (documentation 'smtp-error-code 'function)
      "Returns the server's three-digit reply code (an integer) that
decided the failure of the SMTP-ERROR CONDITION, e.g. 550, or NIL if
there was none."
      (documentation 'smtp-error-enhanced-code 'function)
      "Returns the RFC 3463 enhanced status code of the failing reply of
the SMTP-ERROR CONDITION as a string, e.g. \"5.1.1\", or NIL."
      (documentation 'smtp-error-reply 'function)
      "Returns the full text of the server's failing reply of the
SMTP-ERROR CONDITION (lines joined by newlines), e.g. \"550 5.1.1
<x@y.example>: Recipient address rejected\", or NIL.")

(defun escape-tildes (string)
  "STRING with each tilde doubled, for use as a format control that
prints STRING."
  (if (find #\~ string)
      (with-output-to-string (out)
        (loop for char across string
              do (when (char= char #\~)
                   (write-char #\~ out))
                 (write-char char out)))
      string))

(define-condition smtp-argument-error (smtp-error)
  ()
  (:documentation "Signalled for bad input: a recipient that is not a
string or a list, a malformed address, a header with a line break, an
unknown server designator key, a bad MIME part...  It is always
signalled before any connection is made and before any program is
run."))

(defun smtp-argument-error (format-control &rest format-arguments)
  "Signals an SMTP-ARGUMENT-ERROR whose report is FORMAT-CONTROL applied
to FORMAT-ARGUMENTS."
  (error 'smtp-argument-error
         :format-control (escape-tildes (apply #'format nil format-control
                                               format-arguments))
         :format-arguments '()))

(define-condition smtp-file-error (smtp-argument-error file-error)
  ()
  (:documentation "Signalled when a file to attach does not exist,
cannot be read or is a directory.  It is also a FILE-ERROR, whose
FILE-ERROR-PATHNAME is the file."))

(define-condition smtp-input-error (smtp-error)
  ()
  (:documentation "Signalled when reading a file or a stream failed
while a letter was rendered or sent (the C library's EIO, EREADER and
ELINE).  When the failure was a Lisp error inside a stream being read,
that original condition is signalled instead."))

(define-condition smtp-connection-error (smtp-error)
  ()
  (:documentation "Signalled when the server could not be reached or the
connection failed: the host name did not resolve, the connection was
refused, timed out or was lost, or the server spoke no SMTP.
SMTP-ERROR-OUTCOME-UNKNOWN is true when the whole message was sent and
the connection failed while waiting for the server's verdict: the
letter may have been accepted, so do not resend it blindly."))

(setf (documentation 'smtp-error-outcome-unknown 'function)
      "Returns true if, for the SMTP-ERROR CONDITION (in practice an
SMTP-CONNECTION-ERROR), the letter was sent completely and no reply came
back, so the server may have accepted it; NIL otherwise.  RETRY-SEND is
not offered then.")

(define-condition smtp-tls-error (smtp-connection-error)
  ()
  (:documentation "Signalled when TLS failed: the handshake, the
verification of the server's certificate, or STARTTLS (required by
:STARTTLS T but not offered by the server)."))

(define-condition smtp-authentication-error (smtp-error)
  ()
  (:documentation "Signalled when the server refused the credentials, or
when no authentication mechanism both sides support could be used."))

(define-condition smtp-transaction-error (smtp-error)
  ()
  (:documentation "Signalled when the server refused a command of the
SMTP transaction: its greeting, EHLO/HELO, MAIL, RCPT, DATA or the
message itself.  See SMTP-ERROR-COMMAND, SMTP-ERROR-CODE,
SMTP-ERROR-ENHANCED-CODE and SMTP-ERROR-REPLY.  The subclasses
SMTP-TRANSIENT-ERROR (4yz) and SMTP-PERMANENT-ERROR (5yz) tell whether
trying again later may help."))

(define-condition smtp-transient-error (smtp-transaction-error)
  ()
  (:documentation "A transaction error with a 4yz reply: a temporary
failure, worth retrying later."))

(define-condition smtp-permanent-error (smtp-transaction-error)
  ()
  (:documentation "A transaction error with a 5yz reply: a permanent
failure; sending the same letter again will fail again."))

(define-condition smtp-recipient-error (smtp-transaction-error)
  ((refused-recipients :initarg :refused-recipients
                       :initform nil
                       :reader smtp-error-refused-recipients))
  (:documentation "Signalled when the server refused recipients, so the
letter was not sent.  SMTP-ERROR-REFUSED-RECIPIENTS lists them."))

(define-condition smtp-transient-recipient-error
    (smtp-recipient-error smtp-transient-error)
  ()
  (:documentation "A recipient was refused with a 4yz reply."))

(define-condition smtp-permanent-recipient-error
    (smtp-recipient-error smtp-permanent-error)
  ()
  (:documentation "A recipient was refused with a 5yz reply."))

(define-condition smtp-program-error (smtp-error)
  ((exit-status :initarg :exit-status
                :initform nil
                :reader smtp-error-exit-status)
   (stderr :initarg :stderr
           :initform nil
           :reader smtp-error-stderr)
   (stdout :initarg :stdout
           :initform nil
           :reader smtp-error-stdout))
  (:documentation "Signalled when the program of a (:PROGRAM ...) mail
server failed: it exited with a non-zero status, was killed, did not
read the whole letter, or timed out.  The readers give its exit status
and what it wrote to its standard error and output."))

(setf (documentation 'smtp-error-exit-status 'function)
      "Returns the exit status of the program of the SMTP-PROGRAM-ERROR
CONDITION (0 to 255), or -N if it was killed by signal N, or NIL if it
did not run."
      (documentation 'smtp-error-stderr 'function)
      "Returns what the program of the SMTP-PROGRAM-ERROR CONDITION wrote
to its standard error (at most 64 KiB), as a string."
      (documentation 'smtp-error-stdout 'function)
      "Returns what the program of the SMTP-PROGRAM-ERROR CONDITION wrote
to its standard output (at most 64 KiB), as a string.")

(define-condition smtp-program-not-found (smtp-program-error)
  ()
  (:documentation "Signalled when the program of a (:PROGRAM ...) mail
server could not be run at all (not found, not executable)."))

(define-condition smtp-warning (smtp-condition simple-warning)
  ()
  (:report report-message)
  (:documentation "Superclass of the warnings signalled by the smtp
system.  They do not stop a send."))

(define-condition smtp-credentials-unused (smtp-warning)
  ()
  (:documentation "Signalled (with WARN) after a letter was sent
without authentication because the server offered no AUTH although
LOGIN and PASSWORD were given."))

(define-condition smtp-recipients-refused (smtp-warning)
  ((refused-recipients :initarg :refused-recipients
                       :initform nil
                       :reader smtp-error-refused-recipients))
  (:documentation "Signalled (with WARN) after a letter was delivered to
some of its recipients only, which the server designator's
:PARTIAL-DELIVERY T allows.  SMTP-ERROR-REFUSED-RECIPIENTS lists the
refused ones."))

(setf (documentation 'smtp-error-refused-recipients 'function)
      "Returns the recipients the server refused, for the
SMTP-RECIPIENT-ERROR or SMTP-RECIPIENTS-REFUSED CONDITION, as a list of
lists (ADDRESS CODE REPLY): the envelope address string, the integer
reply code and the reply text, e.g. (\"x@y.example\" 550 \"550 5.1.1
No such user\").")

;;; ------------------------------------------------------------------
;;; Hints: what to try

(defun label-port (label)
  "The port of the \"host:port\" string LABEL, or NIL."
  (let ((colon (and label (position #\: label :from-end t))))
    (and colon (parse-integer label :start (1+ colon) :junk-allowed t))))

(defparameter *tls-mixup-markers*
  '("wrong version number" "wrong_version_number" "packet length too long"
    "unknown protocol" "http request")
  "Texts in a TLS error that mean TLS met plain text: implicit TLS
against a STARTTLS or plain port, or the other way round.")

(defun text-contains-p (text &rest needles)
  "True if the string TEXT contains one of NEEDLES, ignoring case."
  (and (stringp text)
       (some (lambda (needle) (search needle text :test #'char-equal))
             needles)))

(defun condition-hints (condition)
  "A list of hints (strings) on what to try about the SMTP-ERROR
CONDITION, from its status, reply code and reply.  Only errors that
came from the C library (their status is set) get hints.  No hint
contains anything secret."
  (let* ((status (smtp-error-status condition))
         (code (smtp-error-code condition))
         (reply (smtp-error-reply condition))
         (text (simple-condition-format-control condition))
         (port (label-port (smtp-error-server condition)))
         (network (typep condition 'smtp-connection-error))
         (hints '()))
    (flet ((hint (control &rest arguments)
             (push (apply #'format nil control arguments) hints)))
      (when status
        (case status
          (:edns
           (hint "The host name did not resolve: check its spelling in the
mail server designator, and that this machine can resolve names."))
          (:econnect
           (if (eql port 25)
               (hint "Nothing accepted the connection on port 25, which many
networks block for clients.  To submit mail to a provider, use port 587
with STARTTLS, e.g. (\"smtp.example.com\" :port 587 :starttls t), or
port 465 with TLS from the start: (\"smtp.example.com\" :ssl t).")
               (hint "Nothing accepted the connection: check the host and
the port, that the server runs, and that no firewall is in the way.")))
          (:etimeout
           (when network
             (hint "The server did not answer in time.  Allow longer with
:timeout (seconds) in the designator, e.g. (\"host\" :timeout 120), or
bind NET.POST-OFFICE:*SMTP-TIMEOUT*; :total-timeout bounds a whole
letter.")
             (when (eql port 465)
               (hint "Port 465 speaks TLS from the first byte: it needs :ssl
t.  Without it (or with :starttls t) the client waits for a greeting
that never comes."))))
          (:etls
           (if (or (apply #'text-contains-p text *tls-mixup-markers*)
                   (apply #'text-contains-p reply *tls-mixup-markers*))
               (hint "TLS met plain text: :ssl and :starttls are probably
mixed up.  Port 465 takes :ssl t (TLS from the first byte); ports 587
and 25 take :starttls t (plain SMTP upgraded by STARTTLS).")
               (hint "TLS could not be set up: check :method (the minimum
TLS version), :ciphers, and :certificate and :key if the server wants a
client certificate.  Port 465 takes :ssl t, port 587 :starttls t.")))
          (:estarttls
           (hint "The server did not offer STARTTLS, so nothing was sent:
:starttls t never falls back to plain text.  Check the port (submission
servers offer STARTTLS on 587; on 465 use :ssl t instead).  :starttls
:try sends in clear text when STARTTLS is missing, credentials
included: an insecure opt-in, only for a server on a network you
trust.  At the REPL the restart CONTINUE-WITHOUT-TLS sends this one
letter that way; code never takes it by itself."))
          (:ecert
           (hint "At the REPL the restart CONTINUE-WITHOUT-VERIFICATION
sends this one letter without checking the certificate, as :verify nil
does (insecure); code never takes it by itself."))
          (:eauth
           (hint "The server refused the credentials.  Check LOGIN and
PASSWORD (many providers want an app password, or OAuth: :oauth-token
in the designator); :auth-mechanism chooses the mechanism."))
          (:eauthmech
           (hint "No authentication mechanism both sides support.  Bind
NET.POST-OFFICE::*SMTP-DEBUG* to T to see what the server offers (after
AUTH in its EHLO reply) and name one with :auth-mechanism; some servers
offer AUTH only after STARTTLS (:starttls t)."))
          (:esmtputf8
           (hint "A non-ASCII address needs a server that supports
SMTPUTF8.  Use an ASCII local part (a non-ASCII domain is converted by
itself) or another server."))
          (:esize
           (hint "The server announced a size limit (SIZE in its EHLO
reply) below the letter's size: nothing was sent.  Send smaller
attachments, or a link to them."))
          (:e8bit
           (hint "The server does not offer 8BITMIME, and a pre-formatted
letter (SEND-SMTP) with octets >= 128 cannot be re-encoded.  Encode it
in 7 bits (quoted-printable or base64), or use SEND-LETTER, which does
that by itself."))
          (:edsn
           (hint "The server does not offer DSN, so the :dsn-notify,
:dsn-ret or :dsn-envid of the designator cannot be honoured: nothing
was sent.  Leave them out to send without notifications."))
          (:erequiretls
           (hint "REQUIRETLS (:require-tls t) needs TLS with a verified
certificate (:ssl t or :starttls t, not :verify nil) and a server that
offers REQUIRETLS: nothing was sent."))
          (:enoprogram
           (hint "Check the program's name and PATH.  (:program \"prog\"
\"arg\" ...) runs the program directly; (:program . \"command line\")
runs it through /bin/sh.")))
        (when (and (eql code 530) (not (eq status :eauth)))
          (if (text-contains-p reply "starttls" "tls")
              (hint "The server wants TLS first: add :starttls t (port 587)
or use :ssl t (port 465).")
              (hint "The server requires authentication: give LOGIN and
PASSWORD to SEND-LETTER (or use SEND-SMTP-AUTH, or the :login and
:password of WITH-SMTP-CONNECTION).")))
        (when (eql code 538)
          (hint "The server wants encryption before authentication: add
:starttls t (port 587) or use :ssl t (port 465)."))
        (when (eql code 552)
          (hint "The letter is larger than the server accepts."))
        (when (eq status :erecipient)
          (if (typep condition 'smtp-transient-error)
              (hint "The refusal is temporary (4yz): trying again later may
succeed (the restart RETRY-SEND).")
              (hint "Nothing was sent.  The restart
CONTINUE-WITHOUT-REFUSED-RECIPIENTS sends the letter to the other
recipients; :partial-delivery t in the designator does that by
itself.")))
        (when (and (typep condition 'smtp-transient-error)
                   (not (eq status :erecipient)))
          (hint "The failure is temporary (4yz): trying again later may
succeed (the restart RETRY-SEND)."))))
    (nreverse hints)))

(defun fill-lines (text width)
  "The words of TEXT (separated by white space or line breaks) as lines
of at most WIDTH characters where the words allow."
  (let ((lines '())
        (line (make-string-output-stream))
        (column 0))
    (dolist (word (remove "" (split-string (substitute #\Space #\Newline
                                                       text)
                                           #\Space)
                          :test #'string=))
      (when (and (plusp column) (> (+ column 1 (length word)) width))
        (push (get-output-stream-string line) lines)
        (setf column 0))
      (when (plusp column)
        (write-char #\Space line)
        (incf column))
      (write-string word line)
      (incf column (length word)))
    (when (plusp column)
      (push (get-output-stream-string line) lines))
    (nreverse lines)))

(defun report-hints (condition stream)
  "Prints the hints of CONDITION to STREAM, each a paragraph of its own
indented by two spaces."
  (dolist (hint (ignore-errors (condition-hints condition)))
    (dolist (line (fill-lines hint 70))
      (format stream "~%  ~a" line))))

;;; ------------------------------------------------------------------
;;; Restarts

(defun retry-send (&optional condition)
  "Invokes the restart RETRY-SEND if it is active (for CONDITION, when
one is given); returns NIL otherwise.  SEND-LETTER, SEND-SMTP and
SEND-SMTP-AUTH establish RETRY-SEND around each send; invoking it
builds the letter again from the arguments and sends it again (to the
same mail server, on a fresh connection unless it is a
WITH-SMTP-CONNECTION one): for instance after fixing the network or
starting the server.  It is offered for the errors of the delivery
itself (connection, TLS, authentication, a temporary 4yz refusal, a
failed program, the file transport) and for SMTP-FILE-ERROR (create the
missing attachment, then retry); not for a permanent 5yz refusal
\(SMTP-PERMANENT-ERROR), which would only come again, and not when the
letter reads a stream, which cannot be read twice.  Beware an error whose
SMTP-ERROR-OUTCOME-UNKNOWN is true: the server may have the letter
already.  The restart is never invoked from inside a C call.  Usable as
a handler: (handler-bind ((smtp-transient-error #'retry-send)) ...)
retries for as long as the failure lasts."
  (let ((restart (find-restart 'retry-send condition)))
    (when restart
      (invoke-restart restart))))

(defun continue-without-refused-recipients (&optional condition)
  "Invokes the restart CONTINUE-WITHOUT-REFUSED-RECIPIENTS if it is
active (for CONDITION, when one is given); returns NIL otherwise.
SEND-LETTER, SEND-SMTP and SEND-SMTP-AUTH offer it for an
SMTP-RECIPIENT-ERROR when at least one recipient would remain: it sends
the letter again with the refused recipients (SMTP-ERROR-REFUSED-RECIPIENTS)
removed, from the envelope and from the To and Cc headers alike.  A
server refuses recipients one at a time, so another refusal may follow,
with the restart offered again.  Not offered when the letter reads a
stream, which cannot be read twice."
  (let ((restart (find-restart 'continue-without-refused-recipients
                               condition)))
    (when restart
      (invoke-restart restart))))

(defun continue-without-tls (&optional condition)
  "Invokes the restart CONTINUE-WITHOUT-TLS if it is active (for
CONDITION, when one is given); returns NIL otherwise.  SEND-LETTER,
SEND-SMTP and SEND-SMTP-AUTH offer it when :STARTTLS T failed because
the server offers no STARTTLS (an SMTP-TLS-ERROR with status
:ESTARTTLS): it sends the letter again as :STARTTLS :TRY would, in
clear text, credentials included.  The failure itself stays closed:
nothing is sent unless someone invokes the restart, which the library
never does; it is meant for a user at the REPL porting old code who
decides knowingly.  Not offered for a connection of WITH-SMTP-CONNECTION
\(give :STARTTLS :TRY to it), nor when the letter reads a stream."
  (let ((restart (find-restart 'continue-without-tls condition)))
    (when restart
      (invoke-restart restart))))

(defun continue-without-verification (&optional condition)
  "Invokes the restart CONTINUE-WITHOUT-VERIFICATION if it is active
\(for CONDITION, when one is given); returns NIL otherwise.  SEND-LETTER,
SEND-SMTP and SEND-SMTP-AUTH offer it when the server's certificate was
not trusted (an SMTP-TLS-ERROR with status :ECERT): it sends the letter
again without verifying the certificate, as :VERIFY NIL would.  Like
CONTINUE-WITHOUT-TLS, never invoked by the library itself; not offered
for a connection of WITH-SMTP-CONNECTION, nor when the letter reads a
stream."
  (let ((restart (find-restart 'continue-without-verification condition)))
    (when restart
      (invoke-restart restart))))

(defun use-mail-server (mail-server &optional condition)
  "Invokes the restart USE-MAIL-SERVER with the mail server designator
MAIL-SERVER if the restart is active (for CONDITION, when one is given);
returns NIL otherwise.  SEND-LETTER, SEND-SMTP and SEND-SMTP-AUTH offer
it when the mail server designator is malformed and for the errors of
the delivery (connection, TLS, authentication, a refused command, a
failed program, the file transport): the letter is built again and sent
through MAIL-SERVER, any designator SEND-LETTER accepts (a connection
of WITH-SMTP-CONNECTION, (:file . \"dir/\")...).  Invoked
interactively (from the debugger), it asks for the designator and
evaluates it.  Not offered for delivery errors when the letter reads a
stream, which cannot be read twice."
  (let ((restart (find-restart 'use-mail-server condition)))
    (when restart
      (invoke-restart restart mail-server))))
