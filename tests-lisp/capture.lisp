;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; capture.lisp - (being written)

(in-package :net.post-office.tests)
