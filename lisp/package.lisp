;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; package.lisp - the packages NET.POST-OFFICE and POSTOFFICE.
;;;
;;; NET.POST-OFFICE exports exactly the names of Allegro CL's mail API
;;; that we implement (smtp.cl and mime-api.cl), nothing more: ported
;;; code that does (use-package :net.post-office) can never collide with
;;; a name of ours.  *SMTP-DEBUG* is not exported from it, as in Allegro:
;;; ported code writes NET.POST-OFFICE::*SMTP-DEBUG*.
;;;
;;; POSTOFFICE is for new code: it uses NET.POST-OFFICE, re-exports
;;; Allegro's names, and exports our additions (WITH-SMTP-CONNECTION,
;;; WITH-CAPTURED-LETTERS and its readers, PREVIEW-LETTER, the conditions
;;; and their readers, the restarts, the special variables, RELOAD).  Our additions
;;; are symbols of NET.POST-OFFICE (the implementation's package), made
;;; external in POSTOFFICE only.

(in-package :cl-user)

(defpackage :net.post-office
  (:use :cl)
  (:export
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
   #:with-mime-part-constructed-stream)
  ;; Our additions: symbols of this package, exported from POSTOFFICE.
  ;; Keep this list and POSTOFFICE's :EXPORT of them the same.
  (:intern
   #:*libpostoffice-path*
   #:*smtp-debug*
   #:*smtp-last-reply*
   #:*smtp-timeout*
   #:*test-email-address-literals*
   #:*test-email-address-server*
   #:reload
   #:libpostoffice-build-error
   #:libpostoffice-build-error-command
   #:libpostoffice-build-error-missing
   #:libpostoffice-build-error-output
   #:smtp-connection-last-reply
   #:with-smtp-connection
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
   #:preview-letter
   #:continue-without-refused-recipients
   #:continue-without-tls
   #:continue-without-verification
   #:retry-send
   #:use-mail-server
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

(defpackage :postoffice
  (:use :cl :net.post-office)
  (:import-from
   :net.post-office
   #:*libpostoffice-path*
   #:*smtp-debug*
   #:*smtp-last-reply*
   #:*smtp-timeout*
   #:*test-email-address-literals*
   #:*test-email-address-server*
   #:reload
   #:libpostoffice-build-error
   #:libpostoffice-build-error-command
   #:libpostoffice-build-error-missing
   #:libpostoffice-build-error-output
   #:smtp-connection-last-reply
   #:with-smtp-connection
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
   #:preview-letter
   #:continue-without-refused-recipients
   #:continue-without-tls
   #:continue-without-verification
   #:retry-send
   #:use-mail-server
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
   #:smtp-error-stdout)
  (:export
   ;; Allegro's names, re-exported
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
   ;; ours
   #:*libpostoffice-path*
   #:*smtp-debug*
   #:*smtp-last-reply*
   #:*smtp-timeout*
   #:*test-email-address-literals*
   #:*test-email-address-server*
   #:reload
   #:libpostoffice-build-error
   #:libpostoffice-build-error-command
   #:libpostoffice-build-error-missing
   #:libpostoffice-build-error-output
   #:smtp-connection-last-reply
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
   ;; previewing letters
   #:preview-letter
   ;; restarts
   #:continue-without-refused-recipients
   #:continue-without-tls
   #:continue-without-verification
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
