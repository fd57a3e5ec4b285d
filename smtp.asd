;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; smtp.asd - the Lisp side of libpostoffice: Allegro CL's send-letter
;;; API (package NET.POST-OFFICE) on SBCL, ECL and CCL, through CFFI.
;;;
;;; The C library build/libpostoffice.so must be built first (`make` in
;;; the checkout); see lisp/library.lisp for how it is found.

(asdf:defsystem "smtp"
  :description "Allegro CL's net.post-office mail API (send-letter,
send-smtp, make-mime-part ...) over libpostoffice and libcurl."
  :version "0.1.0"
  :license "LLGPL"
  :depends-on ("cffi" "trivial-gray-streams")
  :serial t
  :components ((:module "lisp"
                :serial t
                :components ((:file "package")
                             (:file "specials")
                             (:file "conditions")
                             (:file "library")
                             (:file "ffi")
                             (:file "util")
                             (:file "mime")
                             (:file "capture")
                             (:file "send"))))
  :in-order-to ((test-op (test-op "smtp/tests"))))

(asdf:defsystem "smtp/tests"
  :description "FiveAM tests of the smtp system, against the fixture SMTP
servers in fixtures/."
  :depends-on ("smtp" "fiveam")
  :serial t
  :components ((:module "tests-lisp"
                :serial t
                :components ((:file "package")
                             (:file "fixtures")
                             (:file "api")
                             (:file "mime")
                             (:file "smtp")
                             (:file "capture")
                             (:file "examples")
                             (:file "faults")
                             (:file "hardening")
                             (:file "secrets")
                             (:file "load"))))
  :perform (test-op (o c)
             (unless (uiop:symbol-call :fiveam '#:run! :smtp)
               (error "The smtp test suite failed."))))
