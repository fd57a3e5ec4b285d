;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; program.lisp - the :program transport: the letter is piped to a
;;; program such as `sendmail -t -i`, which reads the recipients from
;;; its headers (so Bcc recipients travel in a Bcc: header that sendmail
;;; removes).  The list form runs the program directly; the string form
;;; (:program . "sendmail -t -i") runs it through /bin/sh.
;;;
;;; By hand, on a machine with a local MTA:
;;;
;;;   (load "examples/program.lisp")
;;;   (smtp-example-program:send-through-program)
;;;
;;; or, to see what the program receives, with a shell command that
;;; keeps it:
;;;
;;;   (smtp-example-program:send-through-program
;;;    '(:program . "cat > /tmp/letter.eml"))

(defpackage :smtp-example-program
  (:use :cl :postoffice)
  (:export #:send-through-program))

(in-package :smtp-example-program)

(defun send-through-program (&optional (mail-server
                                        '(:program "/usr/sbin/sendmail"
                                          "-t" "-i")))
  "Sends a letter by piping it to the program of MAIL-SERVER, a
\(:PROGRAM ...) designator, by default sendmail -t -i.  If the program
fails (exits non-zero), the SMTP-PROGRAM-ERROR is handled here: its
exit status and standard error are printed to *ERROR-OUTPUT* and NIL is
returned.  Returns the letter's Message-ID on success."
  (handler-case
      (send-letter mail-server "cron@example.com" "admin@example.net"
                   (format nil "The nightly backup finished.~%")
                   :subject "Backup report"
                   :bcc "audit@example.net")
    (smtp-program-error (condition)
      (format *error-output* "~&The mail program failed (exit status ~a):~
~%~a~%" (smtp-error-exit-status condition)
              (smtp-error-stderr condition))
      nil)))
