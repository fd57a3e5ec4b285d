;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; build.lisp - the ASDF component that builds libpostoffice, the C
;;; library under the smtp system, so that (asdf:load-system "smtp")
;;; works from a fresh clone, with no `make` first.
;;;
;;; smtp.asd loads this file before its DEFSYSTEM forms.  (It is not a
;;; system of its own: a secondary system of smtp.asd cannot be in the
;;; :DEFSYSTEM-DEPENDS-ON of "smtp", ASDF 3.3 reports a circular
;;; dependency.)  A system definition names the component
;;; (:postoffice-c-library "libpostoffice"):
;;;
;;;   COMPILE-OP  runs `make` in the checkout: the Makefile is the one
;;;               description of the build (sources, flags, pkg-config
;;;               modules).  Done when the library is newer than every
;;;               file in c/, or when `make -q` says it is up to date.
;;;   LOAD-OP     loads the library (NET.POST-OFFICE::LOAD-LIBPOSTOFFICE,
;;;               in library.lisp, which must be loaded before).
;;;
;;; Which library:
;;;  - $LIBPOSTOFFICE or NET.POST-OFFICE:*LIBPOSTOFFICE-PATH* set: that
;;;    file; nothing is built.
;;;  - an installed copy (`make install` puts no c/ beside smtp.asd):
;;;    build/libpostoffice.so.0, the link `make install` made to the
;;;    installed library; nothing is built, no compiler is needed.
;;;  - a checkout: its build/libpostoffice.so, the file `make` makes; if
;;;    the checkout is read-only (and that file is missing or out of
;;;    date), the same name under the user's ASDF output cache
;;;    (ASDF:APPLY-OUTPUT-TRANSLATIONS), built by `make LIB_BUILD=dir`.
;;;
;;; Before make runs, what the build needs is looked for: the C compiler
;;; ($CC or cc), make, pkg-config ($PKG_CONFIG) and the pkg-config
;;; modules of the Makefile's DEP_PKGS line.  When something is missing,
;;; or make fails, NET.POST-OFFICE::LIBPOSTOFFICE-BUILD-ERROR (library.lisp;
;;; exported from POSTOFFICE) is signalled, naming what is missing and
;;; the Debian command that installs it, with make's output inside.
;;;
;;; When the library was rebuilt, ASDF 3.3 (SBCL's) also recompiles the
;;; Lisp files after the component: it redoes what follows an action it
;;; performed.  That happens only when a C file changed.

(defpackage :net.post-office.build
  (:use :cl)
  (:export #:c-library
           #:library-file
           #:build-needed-p
           #:missing-requirements)
  (:documentation "The ASDF component class that builds libpostoffice
for the smtp system (smtp.asd loads it)."))

(in-package :net.post-office.build)

(defclass c-library (asdf:component)
  ()
  (:documentation "libpostoffice, the C library of the smtp system:
built by `make` in the system's source directory, or found installed;
see lisp/build.lisp.  Written (:postoffice-c-library NAME) in a
system definition."))

;; The component type :POSTOFFICE-C-LIBRARY of a DEFSYSTEM form is found
;; by name in ASDF's package (as CFFI does for :CFFI-GROVEL-FILE).
(setf (find-class 'asdf::postoffice-c-library) (find-class 'c-library))

(defparameter *library-name* "libpostoffice.so"
  "The file `make` builds in build/ (or in LIB_BUILD).")

(defparameter *installed-name* "libpostoffice.so.0"
  "The link `make install` puts in the build/ directory beside the
installed smtp.asd.")

;;; ------------------------------------------------------------------
;;; Places

(defun root (component)
  "The source directory of COMPONENT's system: the checkout, where the
Makefile is."
  (asdf:system-source-directory (asdf:component-system component)))

(defun sources-p (root)
  "True if ROOT has the C sources and the Makefile (a checkout), false
for an installed copy of the Lisp sources."
  (and (probe-file (merge-pathnames "Makefile" root))
       (probe-file (merge-pathnames "c/postoffice.h" root))
       t))

(defun checkout-library (root)
  "The library `make` builds in ROOT: ROOT/build/libpostoffice.so."
  (merge-pathnames (concatenate 'string "build/" *library-name*) root))

(defun cache-library (root)
  "Where the library of the read-only checkout ROOT is built: the name of
CHECKOUT-LIBRARY in the user's ASDF output cache."
  (asdf:apply-output-translations (checkout-library root)))

(defun native (pathname)
  "PATHNAME as a native file name."
  (uiop:native-namestring pathname))

(defun override-p ()
  "True if the user named the library to load ($LIBPOSTOFFICE, or
NET.POST-OFFICE:*LIBPOSTOFFICE-PATH* once the system is loaded): then
nothing is built."
  (let ((env (uiop:getenv "LIBPOSTOFFICE"))
        (var (uiop:find-symbol* '#:*libpostoffice-path* '#:net.post-office
                                nil)))
    (or (and env (plusp (length env)))
        (and var (boundp var) (symbol-value var) t))))

(defun writable-directory-p (directory)
  "True if files can be made in DIRECTORY (created if need be): tried,
since permissions do not tell about read-only mounts or root."
  (let ((probe (merge-pathnames
                (format nil ".write-test-~36r"
                        (random (expt 36 8) (make-random-state t)))
                directory)))
    (handler-case
        (progn
          (ensure-directories-exist directory)
          (with-open-file (out probe :direction :output
                                     :if-exists :supersede)
            (write-line "" out))
          (delete-file probe)
          t)
      (error ()
        (ignore-errors (delete-file probe))
        nil))))

(defun file-date (pathname)
  "The write date of the file PATHNAME, or NIL if it does not exist."
  (and (probe-file pathname)
       (ignore-errors (file-write-date pathname))))

;;; ------------------------------------------------------------------
;;; Running programs

(defun run-shell (script &rest arguments)
  "Runs the sh SCRIPT with ARGUMENTS as $1... and MAKEFLAGS & co. unset
(a make running this Lisp must not leak into ours).  Returns its
output (standard output and error together) and its exit status."
  (multiple-value-bind (output error status)
      (uiop:run-program (list* "/bin/sh" "-c"
                               (concatenate
                                'string "unset MAKEFLAGS MFLAGS MAKELEVEL; "
                                script)
                               "sh" arguments)
                        :output :string :error-output :output
                        :ignore-error-status t)
    (declare (ignore error))
    (values output status)))

(defun make-arguments (root library)
  "The arguments of the make that builds LIBRARY for ROOT: LIB_BUILD is
\"build\" for the checkout's own build/, else LIBRARY's directory."
  (let* ((directory (uiop:pathname-directory-pathname library))
         (lib-build (if (uiop:pathname-equal
                         directory
                         (uiop:pathname-directory-pathname
                          (checkout-library root)))
                        "build"
                        (string-right-trim "/" (native directory)))))
    (list "-C" (native root) "--no-print-directory"
          (concatenate 'string "LIB_BUILD=" lib-build)
          (concatenate 'string lib-build "/" *library-name*))))

(defun make-command (root library)
  "The make command that builds LIBRARY for ROOT, as a string (for
messages)."
  (format nil "make~{ ~a~}" (make-arguments root library)))

;;; ------------------------------------------------------------------
;;; Is the library up to date?

(defun newer-than-sources-p (date root)
  "True if DATE is later than the write date of every file in ROOT/c/."
  (every (lambda (file)
           (let ((source-date (file-date file)))
             (and source-date (< source-date date))))
         (directory (merge-pathnames "c/*.*" root))))

(defun up-to-date-p (root library)
  "True if LIBRARY exists and `make` would not rebuild it: it is newer
than every C source and header (no process needed), or `make -q` says
so (the Makefile knows best, e.g. that c/cli.c is not in the library)."
  (let ((date (file-date library)))
    (and date
         (or (newer-than-sources-p date root)
             (eql 0 (nth-value 1 (apply #'run-shell "exec make -q \"$@\""
                                        (make-arguments root library))))))))

(defun library-file (component)
  "The library file COMPONENT builds and loads, or NIL when it is loaded
by name (the user named a file, or an installed copy has no link to
the library): ROOT/build/libpostoffice.so if the checkout is writable
or that file is up to date, else the same name in the ASDF output
cache; for an installed copy, ROOT/build/libpostoffice.so.0."
  (let ((root (root component)))
    (cond ((override-p) nil)
          ((not (sources-p root))
           (let ((link (merge-pathnames
                        (concatenate 'string "build/" *installed-name*)
                        root)))
             (and (probe-file link) link)))
          ((or (writable-directory-p
                (uiop:pathname-directory-pathname (checkout-library root)))
               (up-to-date-p root (checkout-library root)))
           (checkout-library root))
          (t (cache-library root)))))

(defun build-needed-p (component)
  "True if COMPONENT's library has to be (re)built before it is loaded."
  (let ((root (root component)))
    (and (not (override-p))
         (sources-p root)
         (not (up-to-date-p root (library-file component))))))

;;; ------------------------------------------------------------------
;;; What the build needs

(defun makefile-modules (root)
  "The pkg-config modules the Makefile in ROOT builds with (its DEP_PKGS
line)."
  (with-open-file (in (merge-pathnames "Makefile" root))
    (loop for line = (read-line in nil nil)
          while line
          do (let ((start (and (eql 0 (search "DEP_PKGS" line))
                               (position #\= line))))
               (when start
                 (return (uiop:split-string
                          (string-trim '(#\Space #\Tab)
                                       (subseq line (1+ start)))
                          :separator '(#\Space #\Tab)))))
          finally (return '("libcurl" "libidn2")))))

(defparameter *requirements-script*
  "cc=${CC:-cc}
set -- \"${cc%% *}\" \"$@\"
command -v \"$1\" >/dev/null 2>&1 || echo \"$1\"
shift
command -v make >/dev/null 2>&1 || echo make
pc=${PKG_CONFIG:-pkg-config}
if command -v \"${pc%% *}\" >/dev/null 2>&1; then
  for m; do $pc --exists \"$m\" 2>/dev/null || echo \"$m\"; done
else
  echo pkg-config
fi"
  "Prints, one a line, what the build needs and does not find: the C
compiler ($CC or cc), make, pkg-config ($PKG_CONFIG), then each of the
pkg-config modules given as arguments (only if pkg-config is there).")

(defun missing-requirements (root)
  "What the build of the C library in ROOT needs and does not find, as a
list of names: the C compiler (\"cc\", or the command $CC names),
\"make\", \"pkg-config\", and pkg-config modules such as \"libidn2\"."
  (remove "" (uiop:split-string
              (apply #'run-shell *requirements-script*
                     (remove "" (makefile-modules root) :test #'string=))
              :separator '(#\Newline))
          :test #'string=))

;;; ------------------------------------------------------------------
;;; Building

(defun build-error (&rest initargs)
  "Signals NET.POST-OFFICE::LIBPOSTOFFICE-BUILD-ERROR (library.lisp,
loaded before this component) with INITARGS."
  (apply #'error (uiop:find-symbol* '#:libpostoffice-build-error
                                    '#:net.post-office)
         initargs))

(defun build (root library)
  "Builds LIBRARY for ROOT with make, or signals
LIBPOSTOFFICE-BUILD-ERROR saying what is missing or that make failed."
  (let ((missing (missing-requirements root))
        (command (make-command root library)))
    (when missing
      (build-error :missing missing :directory (native root)))
    (format *standard-output* "~&; building ~a: ~a~%" (native library)
            command)
    (finish-output *standard-output*)
    (multiple-value-bind (output status)
        ;; Under a lock where flock(1) exists: two Lisps loading the system
        ;; at once must not run two makes in one directory.
        (apply #'run-shell "d=$1; shift
if mkdir -p \"$d\" 2>/dev/null && command -v flock >/dev/null 2>&1; then
  exec flock \"$d/.make-lock\" make \"$@\"
fi
exec make \"$@\""
               (native (uiop:pathname-directory-pathname library))
               (make-arguments root library))
      (unless (and (eql status 0) (probe-file library))
        (build-error :missing (missing-requirements root)
                     :directory (native root)
                     :command command :status status :output output)))))

;;; ------------------------------------------------------------------
;;; The component's actions

(defmethod asdf:component-pathname ((c c-library))
  (root c))

;; ASDF 3.1 (ECL's) asks every component for its file type.
(defmethod asdf:source-file-type ((c c-library) (s asdf:system))
  nil)

(defmethod asdf:input-files ((o asdf:operation) (c c-library))
  nil)

(defmethod asdf:output-files ((o asdf:operation) (c c-library))
  ;; No files for ASDF to date: whether the library is up to date is
  ;; make's business (OPERATION-DONE-P below).
  (values nil t))

(defmethod asdf:component-depends-on ((o asdf:load-op) (c c-library))
  `((asdf:compile-op ,c) ,@(call-next-method)))

(defmethod asdf:operation-done-p ((o asdf:compile-op) (c c-library))
  (not (build-needed-p c)))

(defmethod asdf:perform ((o asdf:compile-op) (c c-library))
  (when (build-needed-p c)
    (build (root c) (library-file c))))

(defmethod asdf:perform ((o asdf:load-op) (c c-library))
  (uiop:symbol-call '#:net.post-office '#:load-libpostoffice
                    (library-file c)))

(defmethod asdf:action-description ((o asdf:compile-op) (c c-library))
  (format nil "building libpostoffice (~a)" (native (root c))))

(defmethod asdf:action-description ((o asdf:load-op) (c c-library))
  (format nil "loading libpostoffice (~a)" (native (root c))))
