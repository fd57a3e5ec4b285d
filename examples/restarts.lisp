;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; restarts.lisp - handling failures with the restarts SEND-LETTER
;;; offers, instead of unwinding: drop the recipients the server
;;; refuses, retry a temporary failure a few times, and fall back on a
;;; second server when the first cannot be reached.  At the REPL the
;;; same restarts appear in the debugger.
;;;
;;; By hand, with a server as in plain-letter.lisp:
;;;
;;;   (load "examples/restarts.lisp")
;;;   (smtp-example-restarts:send-robustly
;;;    "127.0.0.1:1" "127.0.0.1:2525"
;;;    '("ann@example.net" "nobody@example.net"))

(defpackage :smtp-example-restarts
  (:use :cl :postoffice)
  (:export #:send-robustly))

(in-package :smtp-example-restarts)

(defun send-robustly (mail-server fallback-server recipients
                      &key (tries 3) (pause 1))
  "Sends a letter to RECIPIENTS through MAIL-SERVER.  Refused
recipients are dropped (the restart CONTINUE-WITHOUT-REFUSED-RECIPIENTS,
as long as one recipient remains), a temporary (4yz) failure is retried
up to TRIES times, PAUSE seconds apart (RETRY-SEND), and if MAIL-SERVER
cannot be reached the letter goes through FALLBACK-SERVER
\(USE-MAIL-SERVER).  Returns three values: the Message-ID SEND-LETTER
returns, the server's final reply (*SMTP-LAST-REPLY*), and the list of
the recipients that were dropped."
  (let ((dropped '())
        (retries 0)
        (fallen-back nil))
    (handler-bind
        ((smtp-recipient-error
           (lambda (condition)
             (when (find-restart 'continue-without-refused-recipients
                                 condition)
               (setf dropped (append dropped
                                     (mapcar #'first
                                             (smtp-error-refused-recipients
                                              condition))))
               (continue-without-refused-recipients condition))))
         (smtp-transient-error
           (lambda (condition)
             (when (< retries tries)
               (incf retries)
               (sleep pause)
               (retry-send condition))))
         (smtp-connection-error
           (lambda (condition)
             (unless fallen-back
               (setf fallen-back t)
               (use-mail-server fallback-server condition)))))
      (let ((message-id
              (send-letter mail-server "alerts@example.com" recipients
                           (format nil "Disk space is low on db1.~%")
                           :subject "Alert: disk space")))
        (values message-id *smtp-last-reply* dropped)))))
