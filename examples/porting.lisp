;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; porting.lisp - mail code written for Allegro CL, run unchanged.
;;;
;;; Everything below the line is the kind of code Allegro programs have
;;; carried for years: (require :smtp), (use-package :net.post-office),
;;; mail to "root" through the machine's own MTA, an address list in one
;;; string, and the (multiple-value-bind (ok err) (ignore-errors ...))
;;; idiom.  It runs as it is: (require :smtp) loads the system through
;;; ASDF (or does nothing once it is loaded), SEND-LETTER returns one true
;;; value, "root" goes out as MAIL FROM:<root> for the MTA to qualify,
;;; and "ops@example.com, Dev Team <dev@example.com>" is two recipients.
;;; The helper SEND-LETTERS does not collide with anything: the package
;;; NET.POST-OFFICE exports Allegro's names only.
;;;
;;; By hand, with a server as in plain-letter.lisp standing in for the
;;; local MTA:
;;;
;;;   (load "examples/porting.lisp")
;;;   (setf smtp-example-porting::*mail-host* "127.0.0.1:2525")
;;;   (smtp-example-porting::report-problem "Disk full" "on /var")

(require :smtp)

(defpackage :smtp-example-porting
  (:use :cl))

(in-package :smtp-example-porting)

(use-package :net.post-office)

;;; ------------------------------------------------------------------
;;; Allegro-era code, unchanged

(defvar *mail-host* "localhost"
  "The mail server: the local MTA.")

(defvar *admins* "ops@example.com, Dev Team <dev@example.com>"
  "Who gets the problem reports.")

(defun report-problem (subject text)
  "Mails TEXT to the admins, with a copy to root on this machine.
Returns T if the mail went out; otherwise prints why and returns NIL."
  (multiple-value-bind (ok err)
      (ignore-errors
       (send-letter *mail-host* "root" *admins*
                    (format nil "~a~%~%-- ~%the nightly job~%" text)
                    :subject subject
                    :cc "root"))
    (cond (err
           (format *error-output* "~&Could not mail the report: ~a~%" err)
           nil)
          (ok t))))

(defun send-letters (subject texts)
  "Sends one report per text in TEXTS.  Returns how many went out."
  (count-if (lambda (text) (report-problem subject text)) texts))
