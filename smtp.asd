;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; smtp.asd - the Lisp side of libpostoffice: Allegro CL's send-letter
;;; API (package NET.POST-OFFICE) on SBCL, ECL and CCL, through CFFI.
;;;
;;; (asdf:load-system "smtp") builds the C library libpostoffice with
;;; `make` when it is missing or older than its sources (the component
;;; :POSTOFFICE-C-LIBRARY, defined in lisp/build.lisp), then loads it;
;;; see lisp/library.lisp for which file is loaded.  The version is the
;;; one in the file VERSION, which the Makefile and c/postoffice.h share.

(load (merge-pathnames "lisp/build.lisp" (or *load-truename* *load-pathname*)))

(asdf:defsystem "smtp"
  :description "Allegro CL's net.post-office mail API (send-letter,
send-smtp, make-mime-part ...) over libpostoffice and libcurl."
  :long-description
  #.(let ((readme (merge-pathnames "README.md"
                                   (or *load-truename* *load-pathname*))))
      (and (probe-file readme) (uiop:read-file-string readme)))
  :author "The libpostoffice developers"
  :maintainer "The libpostoffice developers"
  :version (:read-file-line "VERSION")
  :license "LLGPL"
  :depends-on ("cffi" "trivial-gray-streams")
  :serial t
  :components ((:module "lisp"
                :serial t
                :components ((:file "package")
                             (:file "specials")
                             (:file "conditions")
                             (:file "library")
                             ;; builds and loads the C library
                             (:postoffice-c-library "libpostoffice")
                             (:file "ffi")
                             (:file "util")
                             (:file "mime")
                             (:file "capture")
                             (:file "send")
                             (:file "preview"))))
  :in-order-to ((test-op (test-op "smtp/tests"))))

(asdf:defsystem "smtp/tests"
  :description "FiveAM tests of the smtp system, against the fixture SMTP
servers in fixtures/, which they start themselves."
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
                             (:file "preview")
                             (:file "fidelity")
                             (:file "examples")
                             (:file "faults")
                             (:file "hardening")
                             (:file "secrets")
                             (:file "load")
                             (:file "build"))))
  :perform (test-op (o c)
             (unless (uiop:symbol-call :net.post-office.tests
                                       '#:test-op-run)
               (error "The smtp test suite failed."))))
