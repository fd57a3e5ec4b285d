;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; package.lisp - the NET.POST-OFFICE package.
;;;
;;; It exports exactly the names of Allegro CL's mail API (smtp.cl and
;;; mime-api.cl), so that Allegro code runs unchanged, plus our
;;; additions: WITH-SMTP-CONNECTION, RELOAD, WITH-CAPTURED-LETTERS and
;;; its readers, the restarts, and the condition classes with their
;;; readers.  *SMTP-DEBUG* is not exported, as in Allegro:
;;; users write NET.POST-OFFICE::*SMTP-DEBUG*.

(in-package :cl-user)

(defpackage :net.post-office
  (:use :cl)
  (:export
   ;; Allegro's API
   #:decode-header-text
   #:make-mime-part
   #:map-over-parts
   #:mime-get-header
   #:mime-part-boundary
   #:mime-part-constructed
   #:mime-part-constructed-p
   #:mime-part-description
   #:mime-part-encoding
   #:mime-part-headers
   #:mime-part-id
   #:mime-part-p
   #:mime-part-parameters
   #:mime-part-parts
   #:mime-part-subtype
   #:mime-part-type
   #:mime-part-writer
   #:send-letter
   #:send-smtp
   #:send-smtp-auth
   #:test-email-address
   #:with-mime-part-constructed-stream
   ;; our additions
   #:*libpostoffice-path*
   #:*smtp-timeout*
   #:reload
   #:with-smtp-connection
   ;; capturing letters (for test suites)
   #:capture-mailbox
   #:captured-letter
   #:captured-letter-attachments
   #:captured-letter-from
   #:captured-letter-header
   #:captured-letter-headers
   #:captured-letter-html
   #:captured-letter-message-id
   #:captured-letter-octets
   #:captured-letter-recipients
   #:captured-letter-text
   #:captured-letters
   #:with-captured-letters
   ;; restarts
   #:continue-without-refused-recipients
   #:retry-send
   #:use-mail-server
   ;; conditions
   #:smtp-argument-error
   #:smtp-authentication-error
   #:smtp-condition
   #:smtp-connection-error
   #:smtp-credentials-unused
   #:smtp-error
   #:smtp-file-error
   #:smtp-input-error
   #:smtp-permanent-error
   #:smtp-permanent-recipient-error
   #:smtp-program-error
   #:smtp-program-not-found
   #:smtp-recipient-error
   #:smtp-recipients-refused
   #:smtp-tls-error
   #:smtp-transaction-error
   #:smtp-transient-error
   #:smtp-transient-recipient-error
   #:smtp-warning
   ;; condition readers
   #:smtp-error-code
   #:smtp-error-command
   #:smtp-error-enhanced-code
   #:smtp-error-exit-status
   #:smtp-error-outcome-unknown
   #:smtp-error-refused-recipients
   #:smtp-error-reply
   #:smtp-error-server
   #:smtp-error-status
   #:smtp-error-stderr
   #:smtp-error-stdout))
