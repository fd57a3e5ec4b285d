;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; package.lisp - the test package and the root FiveAM suite :SMTP.
;;; Each test file declares a child suite of :SMTP.

(in-package :cl-user)

#+sbcl
(eval-when (:compile-toplevel :load-toplevel :execute)
  (require :sb-introspect))

(defpackage :net.post-office.tests
  (:use :cl :fiveam :postoffice))

(in-package :net.post-office.tests)

(def-suite :smtp
  :description "All tests of the smtp system (packages NET.POST-OFFICE and
POSTOFFICE).")
