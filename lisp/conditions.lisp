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

(in-package :net.post-office)

(define-condition smtp-condition (condition)
  ()
  (:documentation "Superclass of every condition signalled by the smtp
system."))

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
          :reader smtp-error-reply))
  (:report (lambda (condition stream)
             (format stream "~?"
                     (simple-condition-format-control condition)
                     (simple-condition-format-arguments condition))))
  (:documentation "All errors signalled by the smtp system are of this
type.  It is a SIMPLE-ERROR, like the errors Allegro CL signals, whose
report explains what failed.  The readers SMTP-ERROR-STATUS,
SMTP-ERROR-SERVER, SMTP-ERROR-COMMAND, SMTP-ERROR-CODE,
SMTP-ERROR-ENHANCED-CODE and SMTP-ERROR-REPLY give the details that
apply, NIL otherwise."))

(setf (documentation 'smtp-error-status 'function)
      "The libpostoffice status of the failure as a keyword named after
the C code without its PO_ prefix, e.g. :ERECIPIENT or :ECONNECT, or NIL
when the error was found in Lisp."
      (documentation 'smtp-error-server 'function)
      "The server involved, as a string \"host:port\", or NIL."
      (documentation 'smtp-error-command 'function)
      "The SMTP command the failing reply answered, e.g.
\"RCPT TO:<x@y.example>\" or \".\" for the end of the message, or NIL.
Secrets in AUTH commands are masked."
      (documentation 'smtp-error-code 'function)
      "The server's three-digit reply code (an integer) that decided the
failure, or NIL if there was none."
      (documentation 'smtp-error-enhanced-code 'function)
      "The RFC 3463 enhanced status code of the failing reply as a
string, e.g. \"5.1.1\", or NIL."
      (documentation 'smtp-error-reply 'function)
      "The full text of the server's failing reply (lines joined by
newlines), or NIL.")

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
  ((outcome-unknown :initarg :outcome-unknown
                    :initform nil
                    :reader smtp-error-outcome-unknown))
  (:documentation "Signalled when the server could not be reached or the
connection failed: the host name did not resolve, the connection was
refused, timed out or was lost, or the server spoke no SMTP.
SMTP-ERROR-OUTCOME-UNKNOWN is true when the whole message was sent and
the connection failed while waiting for the server's verdict: the
letter may have been accepted, so do not resend it blindly."))

(setf (documentation 'smtp-error-outcome-unknown 'function)
      "True if the letter was sent completely and no reply came back, so
the server may have accepted it.")

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
      "The program's exit status (0 to 255), or -N if it was killed by
signal N, or NIL if it did not run."
      (documentation 'smtp-error-stderr 'function)
      "What the program wrote to its standard error (at most 64 KiB), as
a string."
      (documentation 'smtp-error-stdout 'function)
      "What the program wrote to its standard output (at most 64 KiB), as
a string.")

(define-condition smtp-program-not-found (smtp-program-error)
  ()
  (:documentation "Signalled when the program of a (:PROGRAM ...) mail
server could not be run at all (not found, not executable)."))

(define-condition smtp-warning (smtp-condition simple-warning)
  ()
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
      "The recipients the server refused, as a list of lists (ADDRESS
CODE REPLY): the address string, the integer reply code and the reply
text.")
