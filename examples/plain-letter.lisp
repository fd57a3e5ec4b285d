;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; plain-letter.lisp - the simplest send: one text letter with
;;; Allegro's SEND-LETTER.
;;;
;;; By hand, from the checkout, after `make`: start a test server that
;;; keeps what it receives in /tmp/mail,
;;;
;;;   mkdir -p /tmp/mail
;;;   /usr/bin/python3 fixtures/smtpd.py --dir /tmp/mail --port 2525 &
;;;
;;; then in a Lisp:
;;;
;;;   (require :asdf)
;;;   (asdf:load-asd (truename "smtp.asd"))
;;;   (asdf:load-system "smtp")
;;;   (load "examples/plain-letter.lisp")
;;;   (smtp-example-plain:send-plain-letter "127.0.0.1:2525")
;;;
;;; and look at /tmp/mail/0001.eml.  A real submission server wants TLS
;;; and credentials, e.g.
;;;
;;;   (smtp-example-plain:send-plain-letter
;;;    '("smtp.example.com" :port 587 :starttls t)
;;;    :login "me@example.com" :password "app password")

(defpackage :smtp-example-plain
  (:use :cl :net.post-office)
  (:export #:send-plain-letter))

(in-package :smtp-example-plain)

(defun send-plain-letter (mail-server
                          &key (from "Jörg Müller <joerg@example.com>")
                               (to '("ann@example.net"
                                     "Bob <bob@example.net>"))
                               login password)
  "Sends a short text letter from FROM to TO through MAIL-SERVER (any
designator SEND-LETTER accepts), with a copy to carol@example.net.
Returns what SEND-LETTER returns: the letter's Message-ID.  The
server's final reply is then in POSTOFFICE:*SMTP-LAST-REPLY*."
  (send-letter mail-server from to
               (format nil "Hello Ann, hello Bob,~%~%the meeting moves to ~
Thursday, 10:00.~%~%-- ~%Jörg~%")
               :subject "Meeting moved to Thursday ✓"
               :cc "carol@example.net"
               :login login
               :password password))
