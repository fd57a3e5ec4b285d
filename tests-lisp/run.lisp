;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; run.lisp - load "smtp/tests" from this checkout, run the FiveAM suites
;;; :SMTP and :SMTP-ZERO-STEP (loading the system in fresh processes),
;;; print FiveAM's explanation and a last line of our own, "IMPL: N
;;; passed, M failed", and exit with status 0 only if every check
;;; passed.  Called by run.sh; the implementation's name comes from
;;; the environment variable SMTP_TEST_IMPL.

(in-package :cl-user)

(require :asdf)

(defun smtp-test-quit (code)
  "Exits Lisp with the status CODE after flushing the output."
  (finish-output *standard-output*)
  (finish-output *error-output*)
  (uiop:quit code))

;; Never enter the debugger: CI has no terminal.
(setf *debugger-hook*
      (lambda (condition hook)
        (declare (ignore hook))
        (format *error-output* "~&Unhandled ~a: ~a~%"
                (type-of condition) condition)
        (smtp-test-quit 3)))

(defvar *smtp-test-impl*
  (or (uiop:getenv "SMTP_TEST_IMPL")
      (string-downcase (lisp-implementation-type)))
  "The name of the implementation for the last line, e.g. \"sbcl\".")

(handler-case
    (progn
      (asdf:load-asd (merge-pathnames "../smtp.asd" *load-truename*))
      (asdf:load-system "smtp/tests"))
  (error (condition)
    (format t "~&Loading smtp/tests failed: ~a~%" condition)
    (format t "~a: 0 passed, 1 failed~%" *smtp-test-impl*)
    (smtp-test-quit 2)))

(let* ((results (append (uiop:symbol-call :fiveam '#:run :smtp)
                        ;; loading the system in fresh processes (build.lisp)
                        (uiop:symbol-call :fiveam '#:run :smtp-zero-step)))
       (failure (uiop:find-symbol* '#:test-failure :it.bese.fiveam))
       (passed (uiop:find-symbol* '#:test-passed :it.bese.fiveam))
       (skipped (uiop:find-symbol* '#:test-skipped :it.bese.fiveam))
       (n-passed (count-if (lambda (r) (typep r passed)) results))
       (n-failed (count-if (lambda (r) (typep r failure)) results))
       (n-skipped (count-if (lambda (r) (typep r skipped)) results)))
  (uiop:symbol-call :fiveam '#:explain! results)
  ;; C stdio output (there should be none) must not come after our line.
  (ignore-errors (cffi:foreign-funcall "fflush" :pointer (cffi:null-pointer)
                                       :int))
  (format t "~&~a: ~d passed, ~d failed~:[, ~d skipped~;~*~]~%"
          *smtp-test-impl* n-passed n-failed (zerop n-skipped) n-skipped)
  (smtp-test-quit (if (and (zerop n-failed) (plusp n-passed)) 0 1)))
