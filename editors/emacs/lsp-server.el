;;; lsp-server.el --- AI code completion from lsp-server, through eglot  -*- lexical-binding: t; -*-

;; Version: 0.1.0
;; Package-Requires: ((emacs "28.1") (eglot "1.9") (jsonrpc "1.0.14"))
;; Keywords: languages, tools, convenience
;; SPDX-License-Identifier: Apache-2.0

;;; Commentary:

;; Registers `lsp-server --stdio' with eglot for common programming modes, and adds
;; `lsp-server-inline-mode', a minor mode that shows the server's inline completions
;; (textDocument/inlineCompletion) as ghost text after point:
;;
;;   (require 'lsp-server)
;;   (setq lsp-server-settings '(:local (:modelPath "~/models/coder.gguf")))
;;   (add-hook 'eglot-managed-mode-hook #'lsp-server-inline-mode)
;;
;; While a suggestion is shown: TAB accepts it, M-f accepts its next word, C-e its next line,
;; M-n / M-p show the next / previous one, C-g (or moving away) dismisses it.

;;; Code:

(require 'cl-lib)
(require 'eglot)
(require 'jsonrpc)
(require 'subr-x)

(defgroup lsp-server nil
  "AI code completion from lsp-server."
  :group 'tools
  :prefix "lsp-server-")

(defcustom lsp-server-command nil
  "The command that starts the server, as a list of strings.
nil: \"lsp-server --stdio\" when `lsp-server' is on `exec-path', else
\"python3 -m lsp_server.cli --stdio\"."
  :type '(choice (const :tag "Find it" nil) (repeat string)))

(defcustom lsp-server-modes
  '(python-mode python-ts-mode js-mode js-ts-mode typescript-mode typescript-ts-mode
    tsx-ts-mode go-mode go-ts-mode rust-mode rust-ts-mode java-mode java-ts-mode c-mode
    c-ts-mode c++-mode c++-ts-mode csharp-mode ruby-mode ruby-ts-mode php-mode sh-mode
    lua-mode)
  "Major modes for which eglot starts lsp-server."
  :type '(repeat symbol))

(defcustom lsp-server-settings nil
  "The server's configuration (section lspServer) as a plist, e.g.
\\='(:local (:modelPath \"~/m.gguf\") :completion (:debounceMs 50)).
Sent as initializationOptions and answered to workspace/configuration; use
:json-false for false."
  :type 'plist)

(defcustom lsp-server-inline-delay 0.2
  "Seconds without edits after an edit before asking for a suggestion."
  :type 'number)

(defface lsp-server-inline-face '((t :inherit shadow))
  "Face of the ghost text.")

(defvar lsp-server-status nil
  "The params of the last lspServer/status notification, as a plist.")

;;;; Eglot registration

(defclass lsp-server-eglot-server (eglot-lsp-server) ()
  :documentation "lsp-server, as an eglot server.")

(defun lsp-server--command ()
  (or lsp-server-command
      (if (executable-find "lsp-server")
          '("lsp-server" "--stdio")
        '("python3" "-m" "lsp_server.cli" "--stdio"))))

(defun lsp-server--contact (&optional _interactive)
  (cons 'lsp-server-eglot-server (lsp-server--command)))

(cl-defmethod eglot-initialization-options ((_server lsp-server-eglot-server))
  (or lsp-server-settings eglot--{}))

(cl-defmethod eglot-handle-request
  ((server lsp-server-eglot-server) (_method (eql workspace/configuration)) &key items)
  "Answer section lspServer from `lsp-server-settings'.
A lspServer section of `eglot-workspace-configuration' takes precedence."
  (let ((answers (cl-call-next-method)))
    (cl-loop for item across (if (vectorp items) items (vconcat items))
             for i from 0
             when (and (equal (plist-get item :section) "lspServer")
                       (null (aref answers i)))
             do (aset answers i (or lsp-server-settings eglot--{})))
    (ignore server)
    answers))

(cl-defmethod eglot-handle-notification
  ((_server lsp-server-eglot-server) (_method (eql lspServer/status)) &rest params)
  (setq lsp-server-status params)
  (force-mode-line-update t))

;;;###autoload
(defun lsp-server-register ()
  "Make eglot start lsp-server for `lsp-server-modes' (ahead of other servers)."
  (interactive)
  (setq eglot-server-programs
        (cons (cons lsp-server-modes #'lsp-server--contact)
              (cl-remove #'lsp-server--contact eglot-server-programs :key #'cdr))))

(defun lsp-server-status-string ()
  "A short description of the server's state for the mode line."
  (let* ((s lsp-server-status)
         (model (let ((m (plist-get s :model)))
                  (if (and m (not (string-empty-p m))) m (plist-get s :localModel))))
         (tier (plist-get s :lastTier)))
    (when s
      (string-join
       (delq nil (list "AI"
                       (and tier (not (string-empty-p tier)) tier)
                       (and model (not (string-empty-p model)) model)
                       (and (eq (plist-get s :offline) t) "(offline)")))
       " "))))

;;;; Commands that edit through the server (answers come back as workspace/applyEdit)

(defun lsp-server--execute (command arguments)
  (let ((server (eglot--current-server-or-lose)))
    (eglot--signal-textDocument/didChange)
    (jsonrpc-request server :workspace/executeCommand
                     (list :command command :arguments arguments))))

(defun lsp-server-complete-block ()
  "Ask the server to write the block at point."
  (interactive)
  (lsp-server--execute "lspServer.completeBlock"
                       (vector (eglot--path-to-uri (buffer-file-name))
                               (eglot--pos-to-lsp-position))))

(defun lsp-server-edit-region (beg end instruction)
  "Ask the server to rewrite the region BEG..END following INSTRUCTION."
  (interactive (list (region-beginning) (region-end) (read-string "Edit instruction: ")))
  (lsp-server--execute "lspServer.editSelection"
                       (vector (eglot--path-to-uri (buffer-file-name))
                               (list :start (eglot--pos-to-lsp-position beg)
                                     :end (eglot--pos-to-lsp-position end))
                               instruction)))

(defun lsp-server-set-enabled (enabled)
  "Turn AI completion on (ENABLED non-nil) or off, telling the server."
  (interactive (list (y-or-n-p "Enable AI completion? ")))
  (setq lsp-server-settings
        (plist-put (copy-tree lsp-server-settings) :completion
                   (plist-put (copy-tree (plist-get lsp-server-settings :completion))
                              :enabled (if enabled t :json-false))))
  (when-let ((server (eglot-current-server)))
    (jsonrpc-notify server :workspace/didChangeConfiguration
                    (list :settings (list :lspServer lsp-server-settings))))
  (message "lsp-server: AI completion %s" (if enabled "on" "off")))

;;;; Inline completion as an overlay

(defvar lsp-server-inline-mode)

(defvar-local lsp-server-inline--overlay nil
  "The overlay showing the suggestion (an after-string at point).")
(defvar-local lsp-server-inline--items nil
  "The suggestions on offer: a vector of (TEXT . END).
END is where the text replaced by TEXT ends.")
(defvar-local lsp-server-inline--index 0)
(defvar-local lsp-server-inline--timer nil)
(defvar-local lsp-server-inline--request 0
  "Counter of requests: an answer to an older one is ignored.")

(defvar lsp-server-inline-active-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "TAB") #'lsp-server-inline-accept)
    (define-key map (kbd "<tab>") #'lsp-server-inline-accept)
    (define-key map (kbd "M-f") #'lsp-server-inline-accept-word)
    (define-key map (kbd "C-e") #'lsp-server-inline-accept-line)
    (define-key map (kbd "M-n") #'lsp-server-inline-next)
    (define-key map (kbd "M-p") #'lsp-server-inline-previous)
    (define-key map (kbd "C-g") #'lsp-server-inline-dismiss)
    map)
  "Keys active while a suggestion is shown (the overlay's keymap).")

(defvar lsp-server-inline-mode-map
  (let ((map (make-sparse-keymap)))
    (define-key map (kbd "M-\\") #'lsp-server-inline-complete)
    map)
  "Keys of `lsp-server-inline-mode'.")

(defconst lsp-server-inline--own-commands
  '(lsp-server-inline-accept lsp-server-inline-accept-word lsp-server-inline-accept-line
    lsp-server-inline-next lsp-server-inline-previous lsp-server-inline-complete))

(defun lsp-server-inline-visible-p ()
  "Non-nil when a suggestion is shown in this buffer."
  (and lsp-server-inline--overlay (overlay-buffer lsp-server-inline--overlay) t))

(defun lsp-server-inline-text ()
  "The text of the suggestion shown, or nil."
  (when (lsp-server-inline-visible-p)
    (car (aref lsp-server-inline--items lsp-server-inline--index))))

(defun lsp-server-inline--clear ()
  (when lsp-server-inline--overlay
    (delete-overlay lsp-server-inline--overlay))
  (setq lsp-server-inline--overlay nil
        lsp-server-inline--items nil
        lsp-server-inline--index 0))

(defun lsp-server-inline--show (pos)
  "Draw the current item as ghost text at POS."
  (let* ((text (car (aref lsp-server-inline--items lsp-server-inline--index)))
         (ghost (propertize text 'face 'lsp-server-inline-face)))
    ;; Keep the cursor before the ghost text, not after it.
    (unless (string-empty-p ghost)
      (put-text-property 0 1 'cursor t ghost))
    (unless lsp-server-inline--overlay
      ;; Empty, not front-advance, rear-advance: its keymap is active with point on it.
      (setq lsp-server-inline--overlay (make-overlay pos pos nil nil t))
      (overlay-put lsp-server-inline--overlay 'keymap lsp-server-inline-active-map)
      (overlay-put lsp-server-inline--overlay 'priority 100))
    (move-overlay lsp-server-inline--overlay pos pos)
    (overlay-put lsp-server-inline--overlay 'after-string ghost)))

(defun lsp-server-inline--items-from (result pos)
  "Suggestions (TEXT . END) for point POS from an inlineCompletion RESULT."
  (let ((items (if (and (listp result) (keywordp (car-safe result)))
                   (plist-get result :items)
                 result))
        out)
    (seq-doseq (item items)
      (let* ((insert (plist-get item :insertText))
             (text (if (stringp insert) insert (plist-get insert :value)))
             (range (plist-get item :range))
             (start (if range (eglot--lsp-position-to-point (plist-get range :start)) pos))
             (end (if range (eglot--lsp-position-to-point (plist-get range :end)) pos)))
        (when (and (stringp text) (<= start pos) (<= pos (max end pos)))
          ;; What lies between the range start and point is already typed.
          (let ((typed (buffer-substring-no-properties start pos)))
            (when (and (string-prefix-p typed text) (> (length text) (length typed)))
              (push (cons (substring text (length typed)) (max end pos)) out))))))
    (vconcat (nreverse out))))

(defun lsp-server-inline-complete (&optional automatic)
  "Ask the server for a suggestion at point and show it.
AUTOMATIC non-nil when triggered by typing rather than by the user."
  (interactive)
  (let ((server (eglot-current-server))
        (buffer (current-buffer))
        (pos (point))
        (tick (buffer-chars-modified-tick))
        (id (cl-incf lsp-server-inline--request)))
    (when server
      (eglot--signal-textDocument/didChange)
      (jsonrpc-async-request
       server :textDocument/inlineCompletion
       (append (eglot--TextDocumentPositionParams)
               (list :context (list :triggerKind (if automatic 2 1))))
       :success-fn
       (lambda (result)
         (when (buffer-live-p buffer)
           (with-current-buffer buffer
             ;; Only when nothing moved while the server was thinking.
             (when (and (= id lsp-server-inline--request) (= pos (point))
                        (= tick (buffer-chars-modified-tick)))
               (let ((items (lsp-server-inline--items-from result pos)))
                 (if (zerop (length items))
                     (lsp-server-inline--clear)
                   (setq lsp-server-inline--items items
                         lsp-server-inline--index 0)
                   (lsp-server-inline--show pos)))))))
       :error-fn (lambda (&rest _) nil)
       :timeout-fn (lambda () nil)
       :timeout 120))))

(defun lsp-server-inline--insert (n)
  "Insert the first N characters of the suggestion at point; keep the rest on show."
  (let* ((item (aref lsp-server-inline--items lsp-server-inline--index))
         (text (car item))
         (end (cdr item))
         (part (substring text 0 n))
         (rest (substring text n))
         (start (point)))
    (lsp-server-inline--clear)
    (if (string-empty-p rest)
        (delete-region start (min (max end start) (point-max)))
      (setq end (+ end n)))
    (insert part)
    (unless (string-empty-p rest)
      (setq lsp-server-inline--items (vector (cons rest end))
            lsp-server-inline--index 0)
      (lsp-server-inline--show (point)))))

(defun lsp-server-inline-accept ()
  "Insert the whole suggestion."
  (interactive)
  (when-let ((text (lsp-server-inline-text)))
    (lsp-server-inline--insert (length text))))

(defun lsp-server-inline-accept-word ()
  "Insert the next word of the suggestion."
  (interactive)
  (when-let ((text (lsp-server-inline-text)))
    (lsp-server-inline--insert
     (if (string-match "\\`[[:space:]\n]*\\(?:[[:alnum:]_]+\\|[^[:alnum:]_[:space:]\n]+\\)" text)
         (match-end 0)
       (length text)))))

(defun lsp-server-inline-accept-line ()
  "Insert the rest of the suggestion's current line (at a line end, the next line)."
  (interactive)
  (when-let ((text (lsp-server-inline-text)))
    (lsp-server-inline--insert
     (let ((nl (string-search "\n" text)))
       (cond ((null nl) (length text))
             ((> nl 0) nl)
             (t (or (string-search "\n" text 1) (length text))))))))

(defun lsp-server-inline--cycle (step)
  (when (lsp-server-inline-visible-p)
    (setq lsp-server-inline--index
          (mod (+ lsp-server-inline--index step) (length lsp-server-inline--items)))
    (lsp-server-inline--show (overlay-start lsp-server-inline--overlay))))

(defun lsp-server-inline-next ()
  "Show the next suggestion."
  (interactive)
  (lsp-server-inline--cycle 1))

(defun lsp-server-inline-previous ()
  "Show the previous suggestion."
  (interactive)
  (lsp-server-inline--cycle -1))

(defun lsp-server-inline-dismiss ()
  "Hide the suggestion."
  (interactive)
  (lsp-server-inline--clear)
  (when (called-interactively-p 'any)
    (keyboard-quit)))

(defun lsp-server-inline--after-change (beg end _len)
  "Keep the suggestion while the edit BEG..END types what it says.
Any other edit clears it and asks again."
  (let ((text (lsp-server-inline-text))
        (ov lsp-server-inline--overlay))
    (if (and text ov (= beg (overlay-start ov)) (< beg end)
             (string-prefix-p (buffer-substring-no-properties beg end) text)
             (< (- end beg) (length text)))
        (let ((n (- end beg)))
          (setq lsp-server-inline--items
                (vector (cons (substring text n)
                              (+ n (cdr (aref lsp-server-inline--items
                                              lsp-server-inline--index)))))
                lsp-server-inline--index 0)
          (lsp-server-inline--show end))
      (unless (memq this-command lsp-server-inline--own-commands)
        (lsp-server-inline--clear)
        (lsp-server-inline--schedule)))))

(defun lsp-server-inline--schedule ()
  ;; A plain timer restarted by every edit (a debounce): unlike an idle timer it also runs
  ;; while Emacs waits for the server, and in batch mode.
  (when lsp-server-inline--timer
    (cancel-timer lsp-server-inline--timer))
  (setq lsp-server-inline--timer
        (run-with-timer lsp-server-inline-delay nil #'lsp-server-inline--fire
                        (current-buffer) (point))))

(defun lsp-server-inline--fire (buffer pos)
  (when (buffer-live-p buffer)
    (with-current-buffer buffer
      (setq lsp-server-inline--timer nil)
      (when (and lsp-server-inline-mode (= pos (point))
                 (eq buffer (window-buffer (selected-window))))
        (lsp-server-inline-complete t)))))

(defun lsp-server-inline--post-command ()
  "Moving away from the suggestion dismisses it."
  (when (and (lsp-server-inline-visible-p)
             (not (memq this-command lsp-server-inline--own-commands))
             (/= (point) (overlay-start lsp-server-inline--overlay)))
    (lsp-server-inline--clear)))

;;;###autoload
(define-minor-mode lsp-server-inline-mode
  "Show AI inline completions from the eglot server as ghost text after point."
  :lighter (:eval (let ((s (lsp-server-status-string))) (if s (concat " " s) " AI")))
  :keymap lsp-server-inline-mode-map
  (if lsp-server-inline-mode
      (progn
        (add-hook 'after-change-functions #'lsp-server-inline--after-change nil t)
        (add-hook 'post-command-hook #'lsp-server-inline--post-command nil t))
    (remove-hook 'after-change-functions #'lsp-server-inline--after-change t)
    (remove-hook 'post-command-hook #'lsp-server-inline--post-command t)
    (when lsp-server-inline--timer
      (cancel-timer lsp-server-inline--timer)
      (setq lsp-server-inline--timer nil))
    (lsp-server-inline--clear)))

(with-eval-after-load 'eglot
  (lsp-server-register))

(provide 'lsp-server)
;;; lsp-server.el ends here
