;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; load.lisp - (being written)

(in-package :net.post-office.tests)
