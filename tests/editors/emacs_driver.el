;;; emacs_driver.el --- drive Emacs + eglot + lsp-server.el in batch mode  -*- lexical-binding: t; -*-

;; Opens a file, lets eglot start the server registered by editors/emacs/lsp-server.el, types
;; the last character with keys, waits (the minor mode asks for a suggestion after a pause),
;; then accepts it with TAB; a second round uses M-\, M-f (one word) and C-b (moving away).
;; Environment: PACKAGE_DIR, FILE, MODEL, LSP_CMD (JSON list), OUT.

(require 'json)
(require 'package)
(add-to-list 'package-directory-list "/usr/share/emacs/site-lisp/elpa")
(package-initialize)
(add-to-list 'load-path (getenv "PACKAGE_DIR"))
(require 'lsp-server)

(defvar driver-result nil)
(defvar driver-start (float-time))

(defun driver-put (key value)
  (push (cons key value) driver-result))

(defun driver-finish (code)
  (with-temp-file (getenv "OUT")
    (insert (json-encode driver-result)))
  (kill-emacs code))

(defun driver-wait (what seconds pred)
  "Process server output until PRED is non-nil, or fail after SECONDS."
  (let ((deadline (+ (float-time) seconds))
        (start (float-time))
        value)
    (while (and (not (setq value (funcall pred))) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    (unless value
      (error "Timed out waiting for %s" what))
    (driver-put (intern (format "ms-%s" what)) (round (* 1000 (- (float-time) start))))
    value))

(defun driver-last-line ()
  (save-excursion
    (goto-char (point-max))
    (when (bolp) (forward-line -1))
    (buffer-substring-no-properties (line-beginning-position) (line-end-position))))

(defun driver-run ()
  ;; Wait for the server's initialize answer however long its start takes (a loaded CI machine).
  (setq eglot-sync-connect t
        eglot-connect-timeout 60)
  (setq eglot-confirm-server-initiated-edits nil
        lsp-server-command (append (json-parse-string (getenv "LSP_CMD") :array-type 'list) nil)
        lsp-server-settings `(:local (:modelPath ,(getenv "MODEL") :threads 2))
        lsp-server-inline-delay 0.05)
  (find-file (getenv "FILE"))
  (python-mode)
  (let* ((contact (eglot--guess-contact))
         (server (apply #'eglot contact)))
    (driver-put 'server-class (symbol-name (eieio-object-class server)))
    (driver-wait "model-ready" 60 (lambda () (eq (plist-get lsp-server-status :localReady) t)))
    (driver-put 'status (lsp-server-status-string))
    (lsp-server-inline-mode 1)
    ;; Type the final "." of "return math." as a user would.
    (goto-char (point-max))
    (when (bolp) (backward-char))
    (delete-char -1)
    (execute-kbd-macro ".")
    (driver-put 'timer-scheduled (timerp lsp-server-inline--timer))
    (driver-wait "overlay" 90 #'lsp-server-inline-visible-p)
    (let ((ov lsp-server-inline--overlay))
      (driver-put 'overlay-at-point (= (overlay-start ov) (point)))
      (driver-put 'after-string (substring-no-properties (overlay-get ov 'after-string)))
      (driver-put 'tab-binding (symbol-name (key-binding (kbd "TAB")))))
    (driver-put 'line-before (driver-last-line))
    (execute-kbd-macro (kbd "TAB"))
    (driver-put 'after-accept (driver-last-line))
    (driver-put 'overlay-after-accept (lsp-server-inline-visible-p))
    ;; Second round: back to the original text, ask with M-\, take one word, move away.
    (lsp-server-inline-mode -1)
    (erase-buffer)
    (insert-file-contents (getenv "FILE"))
    (goto-char (point-max))
    (when (bolp) (backward-char))
    (lsp-server-inline-mode 1)
    (execute-kbd-macro (kbd "M-\\"))
    (driver-wait "overlay-again" 90 #'lsp-server-inline-visible-p)
    (driver-put 'second-suggestion (lsp-server-inline-text))
    (execute-kbd-macro (kbd "M-f"))
    (driver-put 'after-word (driver-last-line))
    (driver-put 'rest-after-word (lsp-server-inline-text))
    (execute-kbd-macro (kbd "C-b"))
    (driver-put 'overlay-after-move (lsp-server-inline-visible-p))
    (driver-put 'buffer-after-move (driver-last-line))
    (driver-put 'shutdown-ms
                (let ((t0 (float-time)))
                  (eglot-shutdown server nil 30)
                  (round (* 1000 (- (float-time) t0)))))))

(condition-case err
    (progn (driver-run) (driver-finish 0))
  (error (driver-put 'error (error-message-string err))
         (driver-finish 1)))
