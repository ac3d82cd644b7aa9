-- lsp-server for Neovim: starts `lsp-server --stdio` for the configured filetypes and shows its
-- inline completions as ghost text.
--
--   require("lsp_server").setup({ settings = { ["local"] = { modelPath = "~/m.gguf" } } })
--
-- Neovim 0.11 registers the server with vim.lsp.config/vim.lsp.enable; 0.10 starts it with
-- vim.lsp.start on FileType. Ghost text: our extmark renderer (lua/lsp_server/ghost.lua) before
-- 0.12, the built-in vim.lsp.inline_completion from 0.12 on (unless `builtin = false`).
local M = {}

local NAME = "lsp-server"
local SECTION = "lspServer"

---@class lsp_server.Keys
---@field accept string|false        accept the whole suggestion (falls back to the key itself)
---@field accept_word string|false   accept the next word
---@field accept_line string|false   accept the rest of the current suggestion line
---@field dismiss string|false       hide the suggestion
---@field next string|false          next suggestion (when the server offers several)
---@field prev string|false          previous suggestion
---@field trigger string|false       ask for a suggestion now

M.defaults = {
  -- nil: `lsp-server` when it is on PATH, else `python3 -m lsp_server.cli`.
  cmd = nil,
  filetypes = {
    "python", "javascript", "javascriptreact", "typescript", "typescriptreact", "go", "rust",
    "java", "c", "cpp", "cs", "ruby", "php", "lua", "sh", "kotlin", "swift", "scala",
  },
  root_markers = { ".git", "pyproject.toml", "package.json", "go.mod", "Cargo.toml" },
  -- The server's configuration (section `lspServer`), sent as initializationOptions and
  -- answered to workspace/configuration: { completion = {...}, ["local"] = {...}, ... }.
  settings = {},
  inline = {
    enabled = true,
    debounce_ms = 75, -- wait this long after the last keystroke before asking
    builtin = "auto", -- "auto": vim.lsp.inline_completion on 0.12+; false: always our renderer
    hl_group = "LspServerGhostText",
  },
  keys = {
    accept = "<Tab>",
    accept_word = "<M-Right>",
    accept_line = "<M-C-Right>",
    dismiss = "<C-]>",
    next = "<M-]>",
    prev = "<M-[>",
    trigger = "<M-\\>",
  },
  on_attach = nil, -- function(client, bufnr)
}

M.config = vim.deepcopy(M.defaults)
M.enabled = true -- :LspServerEnable / :LspServerDisable
M.status = {} -- the last lspServer/status notification's params

local function default_cmd()
  if vim.fn.executable("lsp-server") == 1 then
    return { "lsp-server", "--stdio" }
  end
  return { "python3", "-m", "lsp_server.cli", "--stdio" }
end

local function builtin_inline()
  local want = M.config.inline.builtin
  if want == false then
    return false
  end
  return vim.fn.has("nvim-0.12") == 1 and vim.lsp.inline_completion ~= nil
end

--- The running client for a buffer (or any buffer when nil).
function M.client(bufnr)
  local filter = { name = NAME }
  if bufnr then
    filter.bufnr = bufnr
  end
  return vim.lsp.get_clients(filter)[1]
end

local function on_status(_, params)
  M.status = params or {}
  vim.api.nvim_exec_autocmds("User", { pattern = "LspServerStatus", modeline = false })
end

--- A short line for a statusline: "lsp-server: local qwen… (offline)".
function M.statusline()
  local s = M.status
  if not s or next(s) == nil then
    return ""
  end
  local parts = { "AI" }
  if s.lastTier and s.lastTier ~= "" then
    table.insert(parts, s.lastTier)
  end
  local model = (s.model ~= nil and s.model ~= "") and s.model or s.localModel
  if model and model ~= "" then
    table.insert(parts, model)
  end
  if s.offline then
    table.insert(parts, "(offline)")
  elseif s.localError and s.localError ~= "" then
    table.insert(parts, "(error)")
  end
  return table.concat(parts, " ")
end

local function attached(client, bufnr)
  if M.config.inline.enabled then
    if builtin_inline() then
      vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
    else
      require("lsp_server.ghost").attach(bufnr, client.id)
    end
  end
  if M.config.on_attach then
    M.config.on_attach(client, bufnr)
  end
end

local function client_config()
  local cfg = M.config
  return {
    name = NAME,
    cmd = cfg.cmd or default_cmd(),
    filetypes = cfg.filetypes,
    root_markers = cfg.root_markers,
    init_options = vim.deepcopy(cfg.settings),
    settings = { [SECTION] = vim.deepcopy(cfg.settings) },
    handlers = { ["lspServer/status"] = on_status },
    on_attach = attached,
  }
end

local function start_legacy(bufnr)
  local conf = client_config()
  conf.root_dir = vim.fs.root(bufnr, conf.root_markers) or vim.fn.getcwd()
  conf.root_markers, conf.filetypes = nil, nil
  vim.lsp.start(conf, { bufnr = bufnr })
end

local function map_keys()
  local keys = M.config.keys
  local act = require("lsp_server.actions")
  local bindings = {
    { keys.accept, act.accept, "accept the AI suggestion" },
    { keys.accept_word, act.accept_word, "accept the next word of the AI suggestion" },
    { keys.accept_line, act.accept_line, "accept the next line of the AI suggestion" },
    { keys.dismiss, act.dismiss, "dismiss the AI suggestion" },
    { keys.next, act.next, "next AI suggestion" },
    { keys.prev, act.prev, "previous AI suggestion" },
    { keys.trigger, act.trigger, "ask for an AI suggestion" },
  }
  for _, b in ipairs(bindings) do
    local lhs, fn, desc = b[1], b[2], b[3]
    if lhs then
      vim.keymap.set("i", lhs, function()
        if not fn() then
          -- Nothing to act on: the key does what it does without us.
          vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(lhs, true, false, true), "n", false)
        end
      end, { desc = desc, silent = true })
    end
  end
end

local function user_commands()
  local act = require("lsp_server.actions")
  vim.api.nvim_create_user_command("LspServerEnable", function() act.set_enabled(true) end,
    { desc = "lsp-server: turn AI completion on" })
  vim.api.nvim_create_user_command("LspServerDisable", function() act.set_enabled(false) end,
    { desc = "lsp-server: turn AI completion off" })
  vim.api.nvim_create_user_command("LspServerCompleteBlock", function() act.complete_block() end,
    { desc = "lsp-server: complete the block at the cursor" })
  vim.api.nvim_create_user_command("LspServerEdit", function(o)
    act.edit_selection(o.line1, o.line2, o.args)
  end, { desc = "lsp-server: edit the selected lines with an instruction", range = true,
    nargs = "*" })
  vim.api.nvim_create_user_command("LspServerStatus", function()
    vim.notify(vim.inspect(M.status))
  end, { desc = "lsp-server: show the last status" })
end

--- Configure and start. `opts` is merged over `require("lsp_server").defaults`.
function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), opts or {})
  vim.api.nvim_set_hl(0, "LspServerGhostText", { link = "Comment", default = true })
  map_keys()
  user_commands()
  if vim.fn.has("nvim-0.11") == 1 then
    vim.lsp.config(NAME, client_config())
    vim.lsp.enable(NAME)
  else
    local group = vim.api.nvim_create_augroup("lsp_server_start", { clear = true })
    vim.api.nvim_create_autocmd("FileType", {
      group = group,
      pattern = M.config.filetypes,
      callback = function(ev) start_legacy(ev.buf) end,
    })
    -- Buffers already open when setup runs.
    for _, buf in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(buf) and vim.tbl_contains(M.config.filetypes, vim.bo[buf].filetype) then
        start_legacy(buf)
      end
    end
  end
end

M._builtin_inline = builtin_inline
M.SECTION = SECTION
return M
