;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; bulk.lisp - many letters over one SMTP connection with
;;; WITH-SMTP-CONNECTION: one TCP (and TLS, and AUTH) set-up for all of
;;; them, which is many times faster than SEND-LETTER's one connection
;;; per letter.  A recipient the server refuses is noted and the loop
;;; goes on.
;;;
;;; By hand, with a server as in plain-letter.lisp:
;;;
;;;   (load "examples/bulk.lisp")
;;;   (smtp-example-bulk:send-newsletter
;;;    "127.0.0.1:2525" '("ann@example.net" "bob@example.net"))

(defpackage :smtp-example-bulk
  (:use :cl :postoffice)
  (:export #:send-newsletter))

(in-package :smtp-example-bulk)

(defun send-newsletter (mail-server recipients
                        &key (from "news@example.com") login password)
  "Sends one personal letter to each address in RECIPIENTS through
MAIL-SERVER, all over a single connection, authenticating with LOGIN
and PASSWORD if given.  Returns two values: the list of (ADDRESS
MESSAGE-ID) for the letters the server accepted, and the list of
(ADDRESS REPLY) for the recipients it refused."
  (let ((sent '())
        (refused '()))
    (with-smtp-connection (connection mail-server :login login
                                                  :password password)
      (dolist (address recipients)
        (handler-case
            (let ((message-id
                    (send-letter connection from address
                                 (format nil "Dear ~a,~%~%here is this ~
month's news.~%" address)
                                 :subject "This month's news")))
              (push (list address message-id) sent))
          ;; one bad address does not stop the others (the connection
          ;; stays open: an RSET goes with the next letter)
          (smtp-recipient-error (condition)
            (push (list address (smtp-error-reply condition)) refused)))))
    (values (nreverse sent) (nreverse refused))))
