-- Drives a real headless Neovim against `lsp-server --stdio`: opens a file, asks for an inline
-- completion and a completion at a position, writes what came back to a JSON file.
-- Arguments come from the environment: LSP_CMD (JSON list), FILE, LINE, COL (0-based, bytes),
-- OUT (result file), MODEL (GGUF path).
local function run()
  local cmd = vim.json.decode(os.getenv("LSP_CMD"))
  local file = os.getenv("FILE")
  local line = tonumber(os.getenv("LINE"))
  local col = tonumber(os.getenv("COL"))
  vim.cmd.edit(file)
  local buf = vim.api.nvim_get_current_buf()
  local client_id = vim.lsp.start({
    name = "lsp-server",
    cmd = cmd,
    root_dir = vim.fs.dirname(file),
    init_options = { ["local"] = { modelPath = os.getenv("MODEL"), threads = 2 } },
  }, { bufnr = buf })
  assert(client_id, "vim.lsp.start failed")
  local client = vim.lsp.get_client_by_id(client_id)
  assert(vim.wait(30000, function() return client.initialized end, 50), "not initialized")
  local result = { encoding = client.offset_encoding }
  -- The position as an insert-mode cursor would be (normal mode clamps to the last character).
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(buf) },
    position = { line = line, character = col },
    context = { triggerKind = 1 },
  }
  local inline = client:request_sync("textDocument/inlineCompletion", params, 60000, buf)
  result.inline = inline and (inline.result or { error = inline.err }) or { error = "timeout" }
  local comp = client:request_sync("textDocument/completion", params, 60000, buf)
  result.completion = comp and (comp.result or { error = comp.err }) or { error = "timeout" }
  -- Accept the completion item the way a user would: apply its text edit to the buffer.
  local items = result.completion.items or result.completion
  if type(items) == "table" and items[1] and items[1].textEdit then
    vim.lsp.util.apply_text_edits({ items[1].textEdit }, buf, client.offset_encoding)
    result.after_accept = vim.api.nvim_buf_get_lines(buf, line, line + 1, false)[1]
  end
  client:stop()
  vim.wait(5000, function() return client:is_stopped() end, 50)
  local fh = assert(io.open(os.getenv("OUT"), "w"))
  fh:write(vim.json.encode(result))
  fh:close()
end

local ok, err = pcall(run)
if not ok then
  io.stderr:write("driver failed: " .. tostring(err) .. "\n")
  vim.cmd("cquit 1")
end
vim.cmd("qall!")
