;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; examples.lisp - (being written)

(in-package :net.post-office.tests)
