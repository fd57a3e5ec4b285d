;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; build.lisp - how the system is loaded and what a user looks for
;;; around it.
;;;
;;; Suite :SMTP.PACKAGING (in :SMTP, fast): one version for the C
;;; library, the Lisp system, the Makefile and the manual; the LICENSE
;;; file; the system's metadata; the report of LIBPOSTOFFICE-BUILD-ERROR.
;;;
;;; Suite :SMTP-ZERO-STEP (not in :SMTP, so not run by
;;; (asdf:test-system "smtp"); run.sh runs it): fresh Lisp processes of
;;; this implementation, each with an empty environment, load the system
;;; from a fresh copy of the checkout (no build/) found where ASDF looks
;;; by default (~/common-lisp/), with a fresh ASDF output cache, and send
;;; a captured letter: the C library is built by ASDF, not rebuilt when
;;; up to date, rebuilt when a C source changes, built into the cache
;;; when the checkout is read-only; without the compiler, make,
;;; pkg-config or the headers, the load signals LIBPOSTOFFICE-BUILD-ERROR
;;; naming what is missing and the apt-get command.  And
;;; (asdf:test-system "smtp") runs suites, starting fixture servers, and
;;; signals on failure.

(in-package :net.post-office.tests)

(def-suite :smtp.packaging :in :smtp
  :description "One version, the license, the system's metadata, the
report of LIBPOSTOFFICE-BUILD-ERROR.")

(in-suite :smtp.packaging)

;;; ------------------------------------------------------------------
;;; Helpers

(defun source-file (name)
  "The file NAME of the checkout the system was loaded from."
  (asdf:system-relative-pathname "smtp" name))

(defun sh (script &rest arguments)
  "Runs the sh SCRIPT with ARGUMENTS as $1...; returns its output
(standard output and error) and its exit status."
  (multiple-value-bind (output error status)
      (uiop:run-program (list* "/bin/sh" "-c" script "sh" arguments)
                        :output :string :error-output :output
                        :ignore-error-status t)
    (declare (ignore error))
    (values output status)))

(defun trim (string)
  "STRING without surrounding white space."
  (string-trim '(#\Space #\Tab #\Newline #\Return) string))

(defun header-version ()
  "The version c/postoffice.h says, from its PO_VERSION_MAJOR, _MINOR and
_PATCH, as \"M.m.p\"."
  (let ((parts '()))
    (dolist (line (split-lines (read-file-string (source-file
                                                  "c/postoffice.h"))))
      (dolist (name '("MAJOR" "MINOR" "PATCH"))
        (let ((prefix (format nil "#define PO_VERSION_~a " name)))
          (when (eql 0 (search prefix line))
            (push (cons name (trim (subseq line (length prefix))))
                  parts)))))
    (format nil "~a.~a.~a" (cdr (assoc "MAJOR" parts :test #'string=))
            (cdr (assoc "MINOR" parts :test #'string=))
            (cdr (assoc "PATCH" parts :test #'string=)))))

(defun make-variable (name &optional (directory (source-file "")))
  "The value of the variable NAME in the Makefile of DIRECTORY, as make
sees it."
  (trim (sh (concatenate 'string
                         "unset MAKEFLAGS MFLAGS MAKELEVEL; "
                         "make -s --no-print-directory -C \"$1\" "
                         "--eval \"print-it: ; @echo \\$($2)\" print-it")
            (native directory) name)))

;;; ------------------------------------------------------------------
;;; One version

(test version-in-one-place
  "The file VERSION is the version of the Lisp system (ASDF), of the
Makefile (what `make install` names the library after), of
c/postoffice.h (PO_VERSION_*, PO_VERSION), of the library loaded, of
the version the bindings require, and of the manual page."
  (let ((version (trim (read-file-string (source-file "VERSION")))))
    (is (= 3 (length (uiop:parse-version version))) "VERSION is ~s" version)
    (is (string= version (asdf:component-version (asdf:find-system "smtp"))))
    (is (string= version (make-variable "VERSION")))
    (is (string= version (header-version)))
    (is (string= version (net.post-office::%po-version)))
    (is (string= version (net.post-office::version-string
                          net.post-office::+required-version+)))
    (is (contains (read-file-string (source-file "docs/postoffice.1"))
                  (format nil "\"libpostoffice ~a\"" version))
        "docs/postoffice.1 does not say libpostoffice ~a" version)))

(test makefile-refuses-other-version
  "The Makefile refuses to build when c/postoffice.h and VERSION
disagree."
  (let ((dir (make-temp-dir "version")))
    (ensure-directories-exist (merge-pathnames "c/" dir))
    (write-file (merge-pathnames "Makefile" dir)
                (read-file-octets (source-file "Makefile")))
    (write-file (merge-pathnames "c/postoffice.h" dir)
                (read-file-octets (source-file "c/postoffice.h")))
    (write-file (merge-pathnames "VERSION" dir) (format nil "9.8.7~%"))
    (multiple-value-bind (output status)
        (sh (concatenate 'string "unset MAKEFLAGS MFLAGS MAKELEVEL; "
                         "make -n -C \"$1\" build/libpostoffice.so")
            (native dir))
      (is (not (eql 0 status)))
      (is (contains output (format nil "VERSION says 9.8.7 but ~
c/postoffice.h says ~a" (header-version)))
          "make said: ~a" output))))

(test makefile-modules
  "The pkg-config modules lisp/build.lisp checks for are those the
Makefile builds with."
  (is (equal (uiop:split-string (make-variable "DEP_PKGS") :separator " ")
             (net.post-office.build::makefile-modules (source-file ""))))
  (is (subsetp '("libcurl" "libidn2")
               (net.post-office.build::makefile-modules (source-file ""))
               :test #'string=)))

;;; ------------------------------------------------------------------
;;; License and metadata

(test license-file
  "LICENSE holds the license smtp.asd declares, the LLGPL: Franz's
preamble, then the whole GNU LGPL 2.1; README names it."
  (let ((license (read-file-string (source-file "LICENSE")))
        (system (asdf:find-system "smtp")))
    (is (string= "LLGPL" (asdf:system-license system)))
    (is (contains license "Preamble to the Gnu Lesser General Public License"))
    (is (contains license "Copyright (c) 2000 Franz Incorporated"))
    (is (contains license "End of Document"))
    (is (contains license "GNU LESSER GENERAL PUBLIC LICENSE"))
    (is (contains license "Version 2.1, February 1999"))
    (is (contains license "END OF TERMS AND CONDITIONS"))
    (is (< (search "Preamble to the Gnu" license)
           (search "GNU LESSER GENERAL PUBLIC LICENSE" license)))
    ;; Debian's copy of the LGPL 2.1, where there is one: the same text
    (let ((debian #p"/usr/share/common-licenses/LGPL-2.1"))
      (when (probe-file debian)
        (is (contains license (read-file-string debian))
            "LICENSE does not contain the text of ~a" debian)))
    (let ((readme (read-file-string (source-file "README.md"))))
      (is (contains readme "LLGPL"))
      (is (contains readme "(LICENSE)")))))

(test system-metadata
  "smtp.asd names its author and maintainer, and its long description is
the README."
  (let ((system (asdf:find-system "smtp")))
    (is (plusp (length (asdf:system-author system))))
    (is (plusp (length (asdf:system-maintainer system))))
    (is (string= (read-file-string (source-file "README.md"))
                 (asdf:system-long-description system)))))

;;; ------------------------------------------------------------------
;;; The report of LIBPOSTOFFICE-BUILD-ERROR

(defparameter *apt-get-line*
  "apt-get install gcc make pkg-config libcurl4-openssl-dev libidn2-dev libssl-dev"
  "The Debian command the report of LIBPOSTOFFICE-BUILD-ERROR gives.")

(test build-error-report
  "LIBPOSTOFFICE-BUILD-ERROR says what is missing and the Debian command
that installs it; when make failed, the command, its status and the
first error line, not make's whole output, which the condition keeps."
  (is (subtypep 'libpostoffice-build-error 'error))
  (is (subtypep 'libpostoffice-build-error 'smtp-condition))
  (let* ((c (make-condition 'libpostoffice-build-error
                            :missing '("cc" "libidn2")
                            :directory "/home/ann/common-lisp/smtp/"))
         (report (princ-to-string c)))
    (is (equal '("cc" "libidn2") (libpostoffice-build-error-missing c)))
    (is (null (libpostoffice-build-error-output c)))
    (is (null (libpostoffice-build-error-command c)))
    (is (contains report (format nil "missing cc (a C compiler, Debian ~
package gcc), libidn2 (libidn2's headers, Debian package libidn2-dev)."))
        "~a" report)
    (is (contains report "/home/ann/common-lisp/smtp/"))
    (is (contains report *apt-get-line*) "~a" report)
    (is (contains report "LIBPOSTOFFICE")))
  (let* ((output (format nil "cc -c c/part.c -o build/obj/part.o~%~
c/part.c:12:3: error: unknown type name 'foo'~%   12 | foo x;~%~
make: *** [Makefile:72: build/obj/part.o] Error 1~%"))
         (c (make-condition 'libpostoffice-build-error
                            :command "make -C /x/ build/libpostoffice.so"
                            :status 2 :output output))
         (report (princ-to-string c)))
    (is (null (libpostoffice-build-error-missing c)))
    (is (string= output (libpostoffice-build-error-output c)))
    (is (contains report (format nil "`make -C /x/ build/libpostoffice.so` ~
exited with status 2")))
    (is (contains report "c/part.c:12:3: error: unknown type name 'foo'"))
    (is (not (contains report "foo x;")) "make's output is in the report: ~a"
        report)
    (is (contains report "libpostoffice-build-error-output"))
    (is (contains report *apt-get-line*))))

;;; ------------------------------------------------------------------
;;; Fresh processes: the zero-step load

(def-suite :smtp-zero-step
  :description "Loading the system from a fresh copy of the checkout in
fresh processes: the C library built by ASDF, the read-only checkout, a
missing toolchain; and ASDF:TEST-SYSTEM.  Not part of :SMTP.")

(in-suite :smtp-zero-step)

(defun implementation-name ()
  "The name of this Lisp's executable: \"sbcl\", \"ecl\" or \"ccl\"."
  #+sbcl "sbcl" #+ecl "ecl" #+ccl "ccl"
  #-(or sbcl ecl ccl) (string-downcase (lisp-implementation-type)))

(defun lisp-command (script)
  "The command that runs this Lisp on the file SCRIPT, without init
files, by the absolute file name of the executable (PATH may be
empty)."
  (let ((exe (trim (sh "command -v \"$1\"" (implementation-name)))))
    #+sbcl (list exe "--noinform" "--non-interactive" "--no-userinit"
                 "--no-sysinit" "--load" script)
    #+ecl (list exe "--norc" "--load" script)
    #+ccl (list exe "--no-init" "--batch" "--load" script)))

(defun dependency-names (name &optional (seen '()))
  "The names of the systems NAME depends on, directly or not, added to
SEEN."
  (let ((system (asdf:find-system name nil)))
    (dolist (dependency (and system (asdf:system-depends-on system)) seen)
      (let ((dependency-name
              (cond ((or (stringp dependency) (symbolp dependency))
                     (string-downcase (string dependency)))
                    ((and (consp dependency) (eq :version (first dependency)))
                     (string-downcase (string (second dependency))))
                    ((and (consp dependency) (eq :feature (first dependency)))
                     (let ((spec (third dependency)))
                       (and (or (stringp spec) (symbolp spec))
                            (string-downcase (string spec))))))))
        (when (and dependency-name
                   (not (member dependency-name seen :test #'string=)))
          (setf seen (dependency-names dependency-name
                                       (cons dependency-name seen))))))))

(defun dependency-directories ()
  "The source directories of the systems smtp and its tests depend on,
each with the directory of its compiled files in this Lisp's ASDF output
cache: the children find the dependencies (CFFI ...) and their compiled
files where this process did, and compile only smtp anew."
  (let ((root (uiop:ensure-directory-pathname (source-file "")))
        (pairs '()))
    (dolist (name (dependency-names "smtp/tests") (nreverse pairs))
      (let ((dir (and (not (member name '("asdf" "uiop") :test #'string=))
                      (ignore-errors (asdf:system-source-directory name)))))
        (when (and dir
                   (not (uiop:subpathp dir root))
                   (not (member dir pairs :key #'car
                                          :test #'uiop:pathname-equal)))
          (push (cons dir (asdf:apply-output-translations dir)) pairs))))))

(defun child-environment (home &key (path (uiop:getenv "PATH"))
                                    pkg-config libpostoffice checkout)
  "The whole environment of a child Lisp: HOME (where ~/common-lisp/ is),
its own ASDF output cache (HOME/cache/), PATH, and PKG_CONFIG and
LIBPOSTOFFICE if given; the dependencies' places from
DEPENDENCY-DIRECTORIES, and with CHECKOUT true, this checkout's too
\(source and compiled files, as for a dependency)."
  (let ((deps (append (and checkout
                           (let ((root (uiop:ensure-directory-pathname
                                        (source-file ""))))
                             (list (cons root (asdf:apply-output-translations
                                               root)))))
                      (dependency-directories))))
    (append
     (list (format nil "HOME=~a" (native home))
           (format nil "XDG_CACHE_HOME=~a"
                   (native (merge-pathnames "cache/" home)))
           (format nil "PATH=~a" path)
           "LC_ALL=C.UTF-8"
           (format nil "CL_SOURCE_REGISTRY=(:source-registry ~
~{(:directory ~s) ~}:inherit-configuration)"
                   (mapcar (lambda (pair) (native (car pair))) deps))
           (format nil "ASDF_OUTPUT_TRANSLATIONS=(:output-translations ~
~{(~s ~s) ~}:inherit-configuration)"
                   (loop for (source . output) in deps
                         collect (native source) collect (native output))))
     (when pkg-config
       (list (format nil "PKG_CONFIG=~a" pkg-config)))
     (when libpostoffice
       (list (format nil "LIBPOSTOFFICE=~a" libpostoffice))))))

(defparameter *child-prologue*
  "(require :asdf)
(setf *debugger-hook*
      (lambda (condition hook)
        (declare (ignore hook))
        (format t \"~&UNHANDLED ~a~%\" condition)
        (finish-output)
        (uiop:quit 4)))
"
  "What every child Lisp runs first: ASDF, and no debugger (status 4).")

(defparameter *child-script*
  "(handler-case (asdf:load-system \"smtp\")
  (error (e)
    (let ((class (find-symbol \"LIBPOSTOFFICE-BUILD-ERROR\" \"POSTOFFICE\")))
      (format t \"~&BUILD-ERROR ~a~%\" (and class (typep e class) t))
      (when (and class (typep e class))
        (format t \"MISSING~{ ~a~}~%\"
                (funcall (find-symbol \"LIBPOSTOFFICE-BUILD-ERROR-MISSING\"
                                      \"POSTOFFICE\")
                         e)))
      (format t \"REPORT~%~a~%END-REPORT~%\" e)
      (finish-output)
      (uiop:quit 3))))
(postoffice:with-captured-letters (box)
  (postoffice:send-letter \"mail.example.com\" \"ann@example.com\"
                          \"bob@example.com\" \"Hello\"
                          :subject \"zero-step\")
  (format t \"~&CAPTURED ~a~%\"
          (postoffice:captured-letter-header
           (first (postoffice:captured-letters box)) \"subject\")))
(with-open-file (maps \"/proc/self/maps\")
  (loop for line = (read-line maps nil)
        while line
        when (search \"libpostoffice.so\" line)
          do (format t \"MAPPED ~a~%\" (subseq line (position #\\/ line)))
             (return)))
(finish-output)
(uiop:quit 0)
"
  "What a child Lisp runs: loads smtp (printing BUILD-ERROR, MISSING and
the REPORT if that fails), sends a captured letter, prints its
subject (CAPTURED) and the library file mapped (MAPPED).")

(defstruct child
  "What a child Lisp did: its output and exit status."
  output
  status)

(defun child-line (child marker)
  "The rest of the first line of CHILD's output that starts with MARKER
and a space, or NIL."
  (let ((prefix (concatenate 'string marker " ")))
    (dolist (line (split-lines (child-output child)))
      (when (eql 0 (search prefix line))
        (return (subseq line (length prefix)))))))

(defun child-report (child)
  "The report of the error CHILD printed, or NIL."
  (let* ((output (child-output child))
         (start (search (format nil "REPORT~%") output))
         (end (search (format nil "~%END-REPORT") output)))
    (and start end (subseq output (+ start 7) end))))

(defun built-p (child)
  "True if the library was built while CHILD ran."
  (contains (child-output child) "; building "))

(defun run-child (home &key wrapper (path (uiop:getenv "PATH"))
                          pkg-config libpostoffice checkout
                          (script *child-script*))
  "Runs the Lisp code SCRIPT (a string, *CHILD-SCRIPT* by default) after
*CHILD-PROLOGUE* in a fresh Lisp with HOME and the environment of
CHILD-ENVIRONMENT (PATH, PKG-CONFIG, LIBPOSTOFFICE, CHECKOUT), behind the
command prefix WRAPPER.  Returns a CHILD."
  (let ((file (merge-pathnames "child.lisp" home)))
    (write-file file (concatenate 'string *child-prologue* script))
    (multiple-value-bind (output error status)
        (uiop:run-program (append wrapper
                                  (list "timeout" "900" "/usr/bin/env" "-i")
                                  (child-environment
                                   home :path path :pkg-config pkg-config
                                        :libpostoffice libpostoffice
                                        :checkout checkout)
                                  (lisp-command (native file)))
                          :input nil :output :string :error-output :output
                          :ignore-error-status t)
      (declare (ignore error))
      (when (uiop:getenv "SMTP_TEST_VERBOSE")
        (format t "~&--- child (status ~a):~%~a~%" status output))
      (make-child :output output :status status))))

(defun copy-checkout (destination)
  "Copies the checkout to DESTINATION as a clone would have it: the
files git knows (tracked, or new and not ignored) as they are in the
working tree, so uncommitted changes are tested too; no build/.
Without git, everything but build/ and .git/."
  (let ((root (native (source-file ""))))
    (ensure-directories-exist destination)
    (multiple-value-bind (output status)
        (sh "cd \"$1\" || exit 1
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard |
    xargs -0 sh -c 'for f; do
      [ -f \"$f\" ] && printf \"%s\\0\" \"$f\"; done' sh |
    tar --null -T - -cf -
else
  tar --exclude=./build --exclude=./.git -cf - .
fi | tar -xf - -C \"$2\""
            root (native destination))
      (unless (eql 0 status)
        (error "Could not copy the checkout: ~a" output)))
    (when (probe-file (merge-pathnames "build/" destination))
      (error "The copy of the checkout has a build/ directory"))
    destination))

(defun read-only-wrapper (directory)
  "How to run a command with DIRECTORY read-only, for everyone, root
included: a command prefix (a read-only bind mount in a new mount
namespace, through unshare), or :CHMOD (chmod -R a-w, enough for a
user who is not root), or NIL if neither can be done here."
  (flet ((works-p (wrapper)
           (multiple-value-bind (output error status)
               (uiop:run-program (append wrapper
                                         (list "/bin/sh" "-c"
                                               "! touch \"$1/.ro\" 2>/dev/null"
                                               "sh" (native directory)))
                                 :output nil :error-output nil
                                 :ignore-error-status t)
             (declare (ignore output error))
             (ignore-errors (delete-file (merge-pathnames ".ro" directory)))
             (eql 0 status))))
    (let ((script "mount --bind \"$0\" \"$0\" &&
mount -o remount,bind,ro \"$0\" && exec \"$@\""))
      (loop for wrapper in (list (list "unshare" "-rm" "/bin/sh" "-c" script
                                       (native directory))
                                 (list "unshare" "-m" "/bin/sh" "-c" script
                                       (native directory)))
            when (works-p wrapper)
              do (return wrapper)
            finally (return (and (string/= "0" (trim (sh "id -u")))
                                 :chmod))))))

(defun tool-directory (home name tools)
  "A directory HOME/NAME/ of links to the programs TOOLS (found on this
PATH), for a PATH that lacks the others."
  (let ((dir (merge-pathnames (format nil "~a/" name) home)))
    (ensure-directories-exist dir)
    (dolist (tool tools)
      (sh "p=$(command -v \"$1\") && ln -sf \"$p\" \"$2/$1\"" tool
          (native dir)))
    (string-right-trim "/" (native dir))))

(defun file-mtime (pathname)
  "The write date of PATHNAME, or NIL if there is no such file."
  (and (probe-file pathname) (file-write-date pathname)))

(defun check-build-error (child what &rest missing)
  "Checks that CHILD failed with LIBPOSTOFFICE-BUILD-ERROR naming MISSING
(strings) and the apt-get command, and no CFFI error.  WHAT names the
case in failure messages."
  (let ((report (child-report child)))
    (is (eql 3 (child-status child)) "~a: status ~a~%~a" what
        (child-status child) (child-output child))
    (is (equal "T" (child-line child "BUILD-ERROR")) "~a: not a ~
LIBPOSTOFFICE-BUILD-ERROR~%~a" what (child-output child))
    (is (equal missing (remove "" (uiop:split-string
                                   (or (child-line child "MISSING") "")
                                   :separator " ")
                               :test #'string=))
        "~a: missing ~s, expected ~s" what (child-line child "MISSING")
        missing)
    (is (contains report *apt-get-line*) "~a: report ~a" what report)
    (dolist (name missing)
      (is (contains report name) "~a: ~a is not in the report ~a" what name
          report))
    (is (not (contains (child-output child) "Unable to load"))
        "~a: CFFI's error" what)))

(defun hold-build-lock (directory home &optional (seconds 8))
  "Where flock(1) exists: starts a process that holds the make lock of
the build directory DIRECTORY for SECONDS, then touches HOME/released;
returns it once it holds the lock.  Else NIL."
  (when (eql 0 (nth-value 1 (sh "command -v flock")))
    (let* ((held (merge-pathnames "held" home))
           (process (uiop:launch-program
                     (list "flock" (native (merge-pathnames ".make-lock"
                                                            directory))
                           "/bin/sh" "-c"
                           "touch \"$1\"; sleep \"$3\"; touch \"$2\""
                           "sh" (native held)
                           (native (merge-pathnames "released" home))
                           (princ-to-string seconds))
                     :output nil :error-output nil)))
      (loop repeat 100
            until (probe-file held)
            do (sleep 0.1))
      process)))

(defun wait-past (universal-time)
  "Returns once the clock is past the second after UNIVERSAL-TIME, so a
file written now is strictly newer in whole seconds."
  (loop while (<= (get-universal-time) (1+ universal-time))
        do (sleep 0.2)))

(test zero-step-load
  "From a fresh copy of the checkout in ~/common-lisp/ with a fresh ASDF
output cache, (asdf:load-system \"smtp\") builds the C library and a
letter is sent (captured); a second load does not rebuild; touching a
C source does; a read-only checkout is built into the ASDF output
cache; $LIBPOSTOFFICE is used as it is; without the compiler, make,
pkg-config or the headers (or when make fails) the load signals
LIBPOSTOFFICE-BUILD-ERROR saying what is missing and the apt-get
command."
  (let* ((home (make-temp-dir "zero-step"))
         (clone (merge-pathnames "common-lisp/smtp/" home))
         (library (merge-pathnames "build/libpostoffice.so" clone))
         (cache (merge-pathnames "cache/" home))
         (tools '("make" "pkg-config" "sed" "cat" "paste" "mkdir" "ar"
                  "rm"))
         (chmod nil))
    (unwind-protect
         (progn
           (copy-checkout clone)
           ;; 1. fresh clone, fresh cache: built, loaded, sent
           (let ((child (run-child home)))
             (is (eql 0 (child-status child)) "first load: ~a"
                 (child-output child))
             (is (built-p child))
             (is (equal "zero-step" (child-line child "CAPTURED")))
             (is (equal (native (truename library))
                        (child-line child "MAPPED"))))
           ;; 2. up to date: not rebuilt
           (let ((date (file-mtime library))
                 (child (run-child home)))
             (is (eql 0 (child-status child)) "second load: ~a"
                 (child-output child))
             (is (not (built-p child)) "rebuilt: ~a" (child-output child))
             (is (eql date (file-mtime library)))
             (is (equal "zero-step" (child-line child "CAPTURED"))))
           ;; 3. a C source newer than the library: rebuilt, and by one
           ;; make at a time: while another holds the build's lock (as a
           ;; make run by another Lisp would), the build waits
           (let ((date (file-mtime library))
                 (holder (hold-build-lock (merge-pathnames "build/" clone)
                                          home)))
             (wait-past date)
             (sh "touch \"$1\"" (native (merge-pathnames "c/letter.c" clone)))
             (let ((child (run-child home)))
               (when holder
                 (uiop:wait-process holder)
                 (is (eql 0 (nth-value 1 (sh "[ \"$1\" -nt \"$2\" ]"
                                             (native library)
                                             (native (merge-pathnames
                                                      "released" home)))))
                     "the library was linked while the lock was held"))
               (is (eql 0 (child-status child)) "after touch: ~a"
                   (child-output child))
               (is (built-p child) "not rebuilt: ~a" (child-output child))
               (is (< date (or (file-mtime library) 0)))
               (is (equal "zero-step" (child-line child "CAPTURED")))))
           ;; 4. read-only checkout, no build/: built in the output cache
           (uiop:delete-directory-tree (merge-pathnames "build/" clone)
                                       :validate t)
           (let ((wrapper (read-only-wrapper clone)))
             (cond
               ((null wrapper)
                (skip "No read-only checkout here (root, and no unshare)"))
               (t
                (when (eq wrapper :chmod)
                  (sh "chmod -R a-w \"$1\"" (native clone))
                  (setf chmod t
                        wrapper nil))
                (dotimes (i 2)
                  (let* ((child (run-child home :wrapper wrapper))
                         (mapped (child-line child "MAPPED")))
                    (is (eql 0 (child-status child)) "read-only load ~d: ~a"
                        i (child-output child))
                    (is (eq (zerop i) (built-p child))
                        "read-only load ~d: built ~a" i (built-p child))
                    (is (equal "zero-step" (child-line child "CAPTURED")))
                    (is (and mapped
                             (eql 0 (search (native (truename cache)) mapped)))
                        "read-only load ~d: mapped ~a, not in ~a" i mapped
                        (native cache))))
                (is (not (probe-file (merge-pathnames "build/" clone))))
                (when chmod
                  (sh "chmod -R u+w \"$1\"" (native clone))
                  (setf chmod nil)))))
           ;; 5. no library in the checkout, something missing
           (is (not (probe-file library)))
           (check-build-error
            (run-child home :path (tool-directory home "no-cc" tools))
            "no compiler" "cc")
           (check-build-error
            (run-child home :path (tool-directory home "nothing" '()))
            "no tools" "cc" "make" "pkg-config")
           (let ((stub (merge-pathnames "pkg-config-stub" home)))
             (write-file stub (format nil "#!/bin/sh~%exit 1~%"))
             (sh "chmod +x \"$1\"" (native stub))
             (check-build-error (run-child home :pkg-config (native stub))
                                "no modules" "libcurl" "libidn2"))
           ;; everything there, but make fails: its first error
           (let ((path (tool-directory home "failing-cc" tools)))
             (write-file (format nil "~a/cc" path)
                         (format nil "#!/bin/sh~%~
echo \"cc: error: no luck\" >&2~%exit 1~%"))
             (sh "chmod +x \"$1/cc\"" path)
             (let ((child (run-child home :path path)))
               (check-build-error child "make fails")
               (is (contains (child-report child) "exited with status 2")
                   "~a" (child-report child))
               (is (contains (child-report child)
                             "The first error: cc: error: no luck")
                   "~a" (child-report child))
               (is (not (contains (child-report child) "Error 1"))
                   "make's output in the report: ~a"
                   (child-report child))))
           (is (not (probe-file library)))
           ;; 6. $LIBPOSTOFFICE: used, nothing built, no tool needed
           (let* ((file (or *libpostoffice-path*
                            net.post-office::*built-library*))
                  (child (run-child home
                                    :path (tool-directory home "nothing" '())
                                    :libpostoffice (native file))))
             (is (eql 0 (child-status child)) "LIBPOSTOFFICE: ~a"
                 (child-output child))
             (is (not (built-p child)))
             (is (equal (native (truename file))
                        (child-line child "MAPPED")))
             (is (not (probe-file library)))))
      (when chmod
        (sh "chmod -R u+w \"$1\"" (native clone)))
      (uiop:delete-directory-tree home :validate t
                                       :if-does-not-exist :ignore))))

;;; ------------------------------------------------------------------
;;; (asdf:test-system "smtp")

(defparameter *test-op-script*
  "(asdf:load-system \"smtp/tests\")
(in-package :net.post-office.tests)
(def-suite :test-op-pass)
(in-suite :test-op-pass)
(test test-op-server
  (with-smtpd (d)
    (send-letter (server-string d) \"ann@example.com\" \"bob@example.com\"
                 \"Hello\" :subject \"test-op\")
    (is (= 1 (length (letters d))))
    (format t \"~&TMP ~a~%\" (native (tmp-root)))))
(def-suite :test-op-fail)
(in-suite :test-op-fail)
(test test-op-failing
  (is (= 1 2)))
(setf *test-op-suites* '(:test-op-pass))
(handler-case (progn (asdf:test-system \"smtp\")
                     (format t \"~&PASS RETURNED~%\"))
  (error (e) (format t \"~&PASS SIGNALLED ~a~%\" e)))
(format t \"~&TMP-AFTER ~a~%\" *tmp-root*)
(setf *test-op-suites* '(:test-op-fail))
(handler-case (progn (asdf:test-system \"smtp\")
                     (format t \"~&FAIL RETURNED~%\"))
  (error (e) (format t \"~&FAIL SIGNALLED ~a~%\" e)))
(finish-output)
(uiop:quit 0)
"
  "What the child Lisp of the test TEST-SYSTEM runs: (asdf:test-system
\"smtp\") on a passing suite that starts a fixture server, then on a
failing one.")

(test test-system
  "(asdf:test-system \"smtp\") in a fresh Lisp with no environment set up
\(no SMTP_TEST_TMP): runs the suites, starting the fixture servers they
use, in a temporary directory it removes afterwards; returns when they
pass, signals an error when a check fails."
  (let ((home (make-temp-dir "test-op")))
    (unwind-protect
         (let* ((child (run-child home :script *test-op-script*
                                       :checkout t))
                (tmp (child-line child "TMP")))
           (is (eql 0 (child-status child)) "~a" (child-output child))
           (is (child-line child "PASS") "~a" (child-output child))
           (is (equal "RETURNED" (child-line child "PASS")))
           (is (and tmp (eql 0 (search "/tmp/" tmp))) "TMP ~a" tmp)
           (is (and tmp (not (probe-file tmp))) "~a was not removed" tmp)
           (is (equal "NIL" (child-line child "TMP-AFTER")))
           (is (eql 0 (search "SIGNALLED The smtp test suite failed"
                              (or (child-line child "FAIL") "")))
               "FAIL ~a" (child-line child "FAIL")))
      (uiop:delete-directory-tree home :validate t
                                       :if-does-not-exist :ignore))))
