;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; library.lisp - loading libpostoffice, and the error that says why it
;;; could not be built.
;;;
;;; The library is built (if need be) and loaded by the ASDF component
;;; that follows this file in smtp.asd (lisp/build.lisp): its LOAD-OP
;;; calls LOAD-LIBPOSTOFFICE with the file it built or found, before
;;; ffi.lisp is loaded.  RELOAD loads it again (for saved images, or
;;; after setting *LIBPOSTOFFICE-PATH*).  Which file: *LIBPOSTOFFICE-PATH*
;;; if set, else the one the component gave (*BUILT-LIBRARY*), else
;;; "libpostoffice.so.0" or "libpostoffice.so" where the dynamic linker
;;; looks.  After loading, the library's version is checked against the
;;; one these bindings were written for: the version of the smtp system,
;;; which smtp.asd reads from the file VERSION, like the Makefile.

(in-package :net.post-office)

;;; ------------------------------------------------------------------
;;; When the library cannot be built

(defparameter *debian-command*
  "apt-get install gcc make pkg-config libcurl4-openssl-dev libidn2-dev libssl-dev"
  "The Debian (and Ubuntu) command that installs everything the build
of libpostoffice needs.")

(defparameter *requirement-descriptions*
  '(("cc" "a C compiler" "gcc")
    ("gcc" "a C compiler" "gcc")
    ("clang" "a C compiler" "clang")
    ("make" nil "make")
    ("pkg-config" nil "pkg-config")
    ("libcurl" "libcurl's headers" "libcurl4-openssl-dev")
    ("libidn2" "libidn2's headers" "libidn2-dev")
    ("libcrypto" "OpenSSL's headers" "libssl-dev")
    ("libssl" "OpenSSL's headers" "libssl-dev"))
  "For each name LIBPOSTOFFICE-BUILD-ERROR-MISSING can return: what it
is (or NIL) and the Debian package that has it.")

(defun describe-requirement (name)
  "NAME, a program or pkg-config module the build needs, with what it is
and its Debian package, e.g. \"libidn2 (libidn2's headers, Debian
package libidn2-dev)\"."
  (destructuring-bind (&optional what package)
      (rest (assoc name *requirement-descriptions* :test #'string=))
    (cond ((null package) name)
          (what (format nil "~a (~a, Debian package ~a)" name what package))
          (t (format nil "~a (Debian package ~a)" name package)))))

(define-condition libpostoffice-build-error (smtp-condition error)
  ((missing :initarg :missing
            :initform '()
            :reader libpostoffice-build-error-missing)
   (directory :initarg :directory
              :initform nil
              :reader libpostoffice-build-error-directory)
   (command :initarg :command
            :initform nil
            :reader libpostoffice-build-error-command)
   (status :initarg :status
           :initform nil
           :reader libpostoffice-build-error-status)
   (output :initarg :output
           :initform nil
           :reader libpostoffice-build-error-output))
  (:report report-build-error)
  (:documentation "Signalled by (ASDF:LOAD-SYSTEM \"smtp\") when the C
library libpostoffice has to be built and cannot be: something the
build needs is missing (the C compiler, make, pkg-config, the headers
of libcurl or libidn2), or make failed.  The report names what is
missing and the Debian command that installs it.  The readers
LIBPOSTOFFICE-BUILD-ERROR-MISSING, LIBPOSTOFFICE-BUILD-ERROR-COMMAND
and LIBPOSTOFFICE-BUILD-ERROR-OUTPUT give the details."))

(setf (documentation 'libpostoffice-build-error-missing 'function)
      "Returns what the build of libpostoffice needs and did not find, for
the LIBPOSTOFFICE-BUILD-ERROR CONDITION: a list of strings, each the
name of a program (\"cc\" or the compiler $CC names, \"make\",
\"pkg-config\") or of a pkg-config module (\"libcurl\", \"libidn2\").
NIL if nothing was found missing and make failed all the same."
      (documentation 'libpostoffice-build-error-command 'function)
      "Returns the make command that failed, for the
LIBPOSTOFFICE-BUILD-ERROR CONDITION, as a string, or NIL if make was not
run (something was missing)."
      (documentation 'libpostoffice-build-error-output 'function)
      "Returns what the make that failed printed (standard output and error
together), for the LIBPOSTOFFICE-BUILD-ERROR CONDITION, as a string, or
NIL if make was not run.")

(defun first-error-line (output)
  "The first line of make's OUTPUT that reports an error, or NIL."
  (with-input-from-string (in (or output ""))
    (loop for line = (read-line in nil nil)
          while line
          when (or (search "error:" line)
                   (search "***" line)
                   (search "undefined reference" line))
            return (string-trim '(#\Space #\Tab #\Return) line))))

(defun report-build-error (condition stream)
  "Writes the report of the LIBPOSTOFFICE-BUILD-ERROR CONDITION."
  (let ((missing (libpostoffice-build-error-missing condition))
        (directory (libpostoffice-build-error-directory condition))
        (command (libpostoffice-build-error-command condition)))
    (cond (missing
           (format stream "The smtp system cannot build libpostoffice, its C ~
library~@[ (in ~a)~]: missing ~{~a~^, ~}."
                   directory (mapcar #'describe-requirement missing)))
          (t
           (format stream "Building libpostoffice, the C library of the smtp ~
system, failed: `~a` exited with status ~a.~@[~%The first error: ~a~]~%~
Its whole output: (postoffice:libpostoffice-build-error-output ~
condition)."
                   command (libpostoffice-build-error-status condition)
                   (first-error-line
                    (libpostoffice-build-error-output condition)))))
    (format stream "~%On Debian or Ubuntu, this installs what the build ~
needs (as root):~%  ~a~%then load the system again.  Or build it with ~
`make` in the checkout, or set the environment variable LIBPOSTOFFICE to ~
a libpostoffice.so built elsewhere."
            *debian-command*)))

;;; ------------------------------------------------------------------
;;; Loading

(cffi:define-foreign-library libpostoffice
  (:unix (:or "libpostoffice.so.0" "libpostoffice.so"))
  (t (:default "libpostoffice")))

(defconstant +required-version+
  #.(destructuring-bind (major minor patch)
        (uiop:parse-version
         (asdf:component-version (asdf:find-system "smtp")))
      (+ (ash major 16) (ash minor 8) patch))
  "The libpostoffice version these bindings were written for, as
0xMMmmpp: the version of the smtp system (the file VERSION).  An older
library, or one with another major version, is refused.")

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

(defvar *built-library* nil
  "The library file the smtp system's ASDF component built or found
(lisp/build.lisp), or NIL: loaded when *LIBPOSTOFFICE-PATH* is NIL.")

(defun load-libpostoffice (&optional (built *built-library*))
  "Loads libpostoffice and checks its version: the file
*LIBPOSTOFFICE-PATH* names if that is non-NIL, else BUILT (remembered in
*BUILT-LIBRARY* for RELOAD) if that file exists, else the library
\"libpostoffice.so.0\" or \"libpostoffice.so\" wherever the dynamic
linker finds it.  Returns the loaded version as a string."
  (setf *built-library* built)
  (when *loaded-library*
    (ignore-errors (cffi:close-foreign-library *loaded-library*))
    (setf *loaded-library* nil))
  (setf *loaded-library*
        (cond (*libpostoffice-path*
               (cffi:load-foreign-library
                (uiop:native-namestring
                 (merge-pathnames *libpostoffice-path*))))
              ((and built (probe-file built))
               (cffi:load-foreign-library (uiop:native-namestring built)))
              (t
               (cffi:load-foreign-library 'libpostoffice))))
  (version-string (check-library-version)))

(defun reload ()
  "Loads the libpostoffice shared library again: the file
*LIBPOSTOFFICE-PATH* names if that is set, else the one ASDF built or
found when the system was loaded (the checkout's
build/libpostoffice.so, or its copy in the ASDF output cache, or the
installed library) if it is still there, else \"libpostoffice.so.0\" or
\"libpostoffice.so\" where the dynamic linker looks.  Call it at the
start of an image saved with this system loaded, or after changing
*LIBPOSTOFFICE-PATH*, while no letter is being sent.  Signals an error
if the library cannot be loaded or is of an incompatible version.
Returns the loaded version as a string such as \"0.1.0\"."
  ;; handles of the image that was saved mean nothing now
  (setf *handle-pool* '())
  (load-libpostoffice))
