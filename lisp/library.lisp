;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; library.lisp - finding and loading libpostoffice.
;;;
;;; The library is loaded when this file is loaded, before ffi.lisp, and
;;; again by RELOAD (for saved images, or after setting
;;; *LIBPOSTOFFICE-PATH*).  The search path is given at library level:
;;; CFFI evaluates library-level options but quotes per-clause ones, so
;;; ASDF:SYSTEM-RELATIVE-PATHNAME would not be evaluated inside a clause.
;;; After loading, the library's version is checked against the one
;;; these bindings were written for.

(in-package :net.post-office)

(cffi:define-foreign-library
    (libpostoffice
     :search-path (asdf:system-relative-pathname "smtp" "build/"))
  (:unix (:or "libpostoffice.so.0" "libpostoffice.so"))
  (t (:default "libpostoffice")))

(defconstant +required-version+ #x000100
  "The libpostoffice version these bindings were written for, as
0xMMmmpp: 0.1.0.  An older library, or one with another major version,
is refused.")

(defun version-string (num)
  "The version number NUM (0xMMmmpp) as \"M.m.p\"."
  (format nil "~d.~d.~d"
          (ldb (byte 8 16) num) (ldb (byte 8 8) num) (ldb (byte 8 0) num)))

(defun version-compatible-p (loaded &optional (required +required-version+))
  "True if a library of version LOADED (0xMMmmpp) can serve bindings
written for version REQUIRED: same major version, and not older."
  (and (= (ldb (byte 8 16) loaded) (ldb (byte 8 16) required))
       (>= loaded required)))

(defun check-library-version ()
  "Signals an error unless the loaded libpostoffice is compatible with
+REQUIRED-VERSION+ (see VERSION-COMPATIBLE-P).  Returns the loaded
version number."
  (let ((loaded (cffi:foreign-funcall "po_version_num" :unsigned-long)))
    (unless (version-compatible-p loaded)
      (error "The libpostoffice loaded is version ~a, but the smtp system ~
needs version ~a or a later ~d.x one.  Rebuild it (`make` in the ~
checkout) or point NET.POST-OFFICE:*LIBPOSTOFFICE-PATH* at the right ~
file and call NET.POST-OFFICE:RELOAD."
             (version-string loaded)
             (version-string +required-version+)
             (ldb (byte 8 16) +required-version+)))
    loaded))

(defvar *loaded-library* nil
  "The CFFI foreign library object of the libpostoffice loaded by
LOAD-LIBPOSTOFFICE, or NIL.")

(defun load-libpostoffice ()
  "Loads libpostoffice, from *LIBPOSTOFFICE-PATH* if that is non-NIL,
otherwise by searching for it, and checks its version.  Returns the
loaded version as a string."
  (when *loaded-library*
    (ignore-errors (cffi:close-foreign-library *loaded-library*))
    (setf *loaded-library* nil))
  (setf *loaded-library*
        (if *libpostoffice-path*
            (cffi:load-foreign-library
             (uiop:native-namestring (merge-pathnames *libpostoffice-path*)))
            (cffi:load-foreign-library 'libpostoffice)))
  (version-string (check-library-version)))

(defun reload ()
  "Loads the libpostoffice shared library again: from
*LIBPOSTOFFICE-PATH* if that is set, otherwise by searching for it as
\"libpostoffice.so.0\" or \"libpostoffice.so\" (where the dynamic linker
looks, then in the build/ directory of the smtp checkout).  Call it at
the start of an image saved with this system loaded, or after changing
*LIBPOSTOFFICE-PATH*, while no letter is being sent.  Signals an error
if the library cannot be loaded or is of an incompatible version.
Returns the loaded version as a string such as \"0.1.0\"."
  ;; handles of the image that was saved mean nothing now
  (setf *handle-pool* '())
  (load-libpostoffice))

(load-libpostoffice)
