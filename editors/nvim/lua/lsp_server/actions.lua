-- What the keys and commands do. Each key action returns false when it had nothing to act on,
-- so that the key keeps its usual meaning (a <Tab> with no suggestion inserts a tab).
local M = {}

local api = vim.api

local function plugin()
  return require("lsp_server")
end

local function builtin()
  return plugin()._builtin_inline()
end

local function ghost()
  return require("lsp_server.ghost")
end

-- Whether the built-in renderer (0.12+) shows a suggestion in the current buffer.
local function builtin_shown()
  local ns = api.nvim_get_namespaces()["nvim.lsp.inline_completion"]
  return ns ~= nil and #api.nvim_buf_get_extmarks(0, ns, 0, -1, { limit = 1 }) > 0
end

local function builtin_select(count)
  local ic = vim.lsp.inline_completion
  local select = ic.select or ic.jump -- named jump in early 0.12 development builds
  if not builtin_shown() or not select then
    return false
  end
  select({ count = count })
  return true
end

function M.accept()
  if builtin() then
    if not builtin_shown() then
      return false
    end
    vim.lsp.inline_completion.get()
    return true
  end
  return ghost().accept("all")
end

function M.accept_word()
  return not builtin() and ghost().accept("word")
end

function M.accept_line()
  return not builtin() and ghost().accept("line")
end

function M.dismiss()
  if builtin() then
    return false -- the built-in renderer clears on the next move or edit
  end
  return ghost().dismiss()
end

function M.next()
  if builtin() then
    return builtin_select(1)
  end
  return ghost().cycle(1)
end

function M.prev()
  if builtin() then
    return builtin_select(-1)
  end
  return ghost().cycle(-1)
end

function M.trigger()
  if builtin() then
    vim.lsp.inline_completion.get()
    return true
  end
  return ghost().request(nil, true)
end

--- Turn AI completion on or off for this session: the server is told through
--- workspace/didChangeConfiguration (completion.enabled), and ghost text stops.
function M.set_enabled(on)
  local p = plugin()
  p.enabled = on
  p.config.settings.completion = p.config.settings.completion or {}
  p.config.settings.completion.enabled = on
  for _, client in ipairs(vim.lsp.get_clients({ name = "lsp-server" })) do
    client.settings = client.settings or {}
    client.settings[p.SECTION] = vim.deepcopy(p.config.settings)
    local params = { settings = client.settings }
    if vim.fn.has("nvim-0.11") == 1 then
      client:notify("workspace/didChangeConfiguration", params)
    else
      client.notify("workspace/didChangeConfiguration", params)
    end
  end
  if not on and not builtin() then
    ghost().clear()
  end
  vim.notify("lsp-server: AI completion " .. (on and "on" or "off"))
end

local function exec(command, arguments)
  local bufnr = api.nvim_get_current_buf()
  local client = plugin().client(bufnr)
  if not client then
    vim.notify("lsp-server is not attached to this buffer", vim.log.levels.WARN)
    return
  end
  -- The server answers with workspace/applyEdit, which Neovim applies itself.
  local function done(err)
    if err then
      vim.notify("lsp-server: " .. (err.message or tostring(err)), vim.log.levels.WARN)
    end
  end
  local params = { command = command, arguments = arguments }
  if vim.fn.has("nvim-0.11") == 1 then
    client:request("workspace/executeCommand", params, done, bufnr)
  else
    client.request("workspace/executeCommand", params, done, bufnr)
  end
end

function M.complete_block()
  local client = plugin().client(api.nvim_get_current_buf())
  if not client then
    return exec("lspServer.completeBlock", {})
  end
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  exec("lspServer.completeBlock", { params.textDocument.uri, params.position })
end

--- Ask the server to rewrite lines line1..line2 (1-based, inclusive) following `instruction`.
function M.edit_selection(line1, line2, instruction)
  if not instruction or instruction == "" then
    instruction = vim.fn.input("Edit instruction: ")
  end
  if instruction == "" then
    return
  end
  local last = api.nvim_buf_get_lines(0, line2 - 1, line2, false)[1] or ""
  local client = plugin().client(api.nvim_get_current_buf())
  local enc = client and client.offset_encoding or "utf-16"
  local width = #last
  if enc ~= "utf-8" then
    if vim.fn.has("nvim-0.11") == 1 then
      width = vim.str_utfindex(last, enc)
    else
      local u32, u16 = vim.str_utfindex(last)
      width = enc == "utf-16" and u16 or u32
    end
  end
  local range = {
    start = { line = line1 - 1, character = 0 },
    ["end"] = { line = line2 - 1, character = width },
  }
  exec("lspServer.editSelection", { vim.uri_from_bufnr(0), range, instruction })
end

return M
