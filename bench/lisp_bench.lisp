;;; -*- mode: lisp; indent-tabs-mode: nil; coding: utf-8 -*-

;;; lisp_bench.lisp - the Lisp side of bench/run.sh (design.md §6): the
;;; smtp system's send-letter against smtp-sink, from SBCL.
;;;
;;; Load it after the system, with the arguments after
;;; --end-toplevel-options:
;;;
;;;   sbcl --non-interactive --eval '(require :asdf)' \
;;;        --eval '(asdf:load-asd (truename "smtp.asd"))' \
;;;        --eval '(asdf:load-system "smtp")' \
;;;        --load bench/lisp_bench.lisp --end-toplevel-options MODE ARGS...
;;;
;;; MODE ARGS:
;;;   session N PORT [BODYFILE]    N letters over one connection
;;;                                (WITH-SMTP-CONNECTION)
;;;   reconnect N PORT [BODYFILE]  N letters, one connection per call (the
;;;                                server designator, Allegro's model)
;;;   attach FILE PORT             one letter with FILE attached
;;;                                (:attachments), and the growth of the
;;;                                process's peak RSS meanwhile
;;;
;;; Every letter is (send-letter server "a@example.com" "b@example.com"
;;; BODY :subject "bench"), BODY being BODYFILE's text or "body".  One
;;; letter is sent before the clock starts, so first-call costs (CLOS
;;; dispatch caches, the first CFFI calls) are not counted, as the C peers
;;; do their global initialisation before theirs.
;;;
;;; Prints one line of KEY=VALUE fields: letters, seconds (wall clock),
;;; cpu (user + system seconds), letters/s; for attach: seconds, cpu,
;;; rss-before-kb, peak-kb, growth-kb.  The peak is the kernel's VmHWM,
;;; reset through /proc/self/clear_refs just before the letter, after a
;;; full GC: so the growth is what sending the letter added, not SBCL's
;;; own ~40 MB.

(defpackage :smtp-bench
  (:use :cl))

(in-package :smtp-bench)

(defun user-args ()
  "The arguments after --end-toplevel-options (SBCL drops the option)."
  (rest sb-ext:*posix-argv*))

(defun fail (fmt &rest args)
  (format *error-output* "lisp_bench: ~?~%" fmt args)
  (sb-ext:exit :code 1 :abort t))

(defun parse-count (string what)
  (let ((n (ignore-errors (parse-integer string))))
    (unless (and n (plusp n))
      (fail "bad ~a: ~s" what string))
    n))

(defun file-text (path)
  (with-open-file (in path :external-format :utf-8)
    (let* ((text (make-string (file-length in)))
           (end (read-sequence text in)))
      (subseq text 0 end))))

(defun now ()
  "Seconds on CLOCK_MONOTONIC (SBCL 2.2's GET-INTERNAL-REAL-TIME reads the
coarse clock, a few milliseconds per tick)."
  (multiple-value-bind (sec nsec) (sb-unix::clock-gettime 1)
    (+ sec (/ nsec 1d9))))

(defun cpu ()
  (/ (float (get-internal-run-time) 1d0) internal-time-units-per-second))

(defun server (port)
  (list "127.0.0.1" :port port))

(defun send-one (server body)
  (net.post-office:send-letter server "a@example.com" "b@example.com" body
                               :subject "bench"))

(defun report-rate (n seconds cpu)
  (format t "letters=~d seconds=~,6f cpu=~,3f letters/s=~,1f~%"
          n seconds cpu (/ n seconds)))

(defun run-session (n port body)
  (send-one (server port) body)         ; warm-up, not timed
  (let ((t0 (now)) (c0 (cpu)))
    (postoffice:with-smtp-connection (c (server port))
      (dotimes (i n)
        (send-one c body)))
    (report-rate n (- (now) t0) (- (cpu) c0))))

(defun run-reconnect (n port body)
  (send-one (server port) body)         ; warm-up, not timed
  (let ((t0 (now)) (c0 (cpu)))
    (dotimes (i n)
      (send-one (server port) body))
    (report-rate n (- (now) t0) (- (cpu) c0))))

(defun status-kb (field)
  "FIELD (\"VmHWM\", \"VmRSS\") of /proc/self/status, in KiB."
  (with-open-file (in "/proc/self/status")
    (loop for line = (read-line in nil)
          while line
          when (and (> (length line) (1+ (length field)))
                    (string= field line :end2 (length field))
                    (char= #\: (char line (length field))))
            do (return (parse-integer line :start (1+ (length field))
                                           :junk-allowed t))
          finally (fail "no ~a in /proc/self/status" field))))

(defun reset-peak ()
  "Makes VmHWM equal to the current RSS (Linux >= 4.0)."
  (with-open-file (out "/proc/self/clear_refs" :direction :output
                                               :if-exists :append)
    (write-string "5" out)))

(defun run-attach (file port)
  (send-one (server port) "warm-up")   ; warm-up, not timed
  (sb-ext:gc :full t)
  (reset-peak)
  (let ((before (status-kb "VmRSS"))
        (t0 (now))
        (c0 (cpu)))
    (net.post-office:send-letter (server port) "a@example.com"
                                 "b@example.com" "The file is attached."
                                 :subject "bench" :attachments file)
    (let ((seconds (- (now) t0))
          (cpu (- (cpu) c0))
          (peak (status-kb "VmHWM")))
      (format t "seconds=~,6f cpu=~,3f rss-before-kb=~d peak-kb=~d ~
growth-kb=~d~%"
              seconds cpu before peak (- peak before)))))

(defun main ()
  (let ((args (user-args)))
    (handler-case
        (cond ((and (member (first args) '("session" "reconnect")
                            :test #'string=)
                    (<= 3 (length args) 4))
               (let ((n (parse-count (second args) "letter count"))
                     (port (parse-count (third args) "port"))
                     (body (if (fourth args) (file-text (fourth args)) "body")))
                 (if (string= (first args) "session")
                     (run-session n port body)
                     (run-reconnect n port body))))
              ((and (equal (first args) "attach") (= (length args) 3))
               (run-attach (second args) (parse-count (third args) "port")))
              (t
               (fail "usage: ... --end-toplevel-options ~
{session N PORT [BODYFILE] | reconnect N PORT [BODYFILE] | attach FILE PORT}")))
      (error (e)
        (fail "~a" e)))
    (finish-output)))

(main)
