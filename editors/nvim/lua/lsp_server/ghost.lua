-- Ghost text for textDocument/inlineCompletion on Neovim 0.10/0.11 (0.12 has it built in):
-- ask after a short pause in insert mode, draw the first line at the cursor (virt_text) and the
-- rest below it (virt_lines), keep it while what is typed matches it, clear it otherwise.
local M = {}

local api = vim.api
local uv = vim.uv or vim.loop
local ns = api.nvim_create_namespace("lsp_server_ghost")
local has_011 = vim.fn.has("nvim-0.11") == 1

M.ns = ns

---@class lsp_server.Suggestion
---@field row integer      0-based row of the anchor
---@field col integer      byte column of the anchor (the cursor when it was drawn)
---@field end_col integer  byte column up to which the suggestion replaces text on `row`
---@field text string      what accepting inserts at the anchor
---@field items table[]    every item the server offered (for next/prev)
---@field index integer

local state = {} -- bufnr -> { client_id, timer, request_id, suggestion, extmark }

local function cfg()
  return require("lsp_server").config.inline
end

local function request(client, method, params, handler, bufnr)
  if has_011 then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

local function cancel(client, id)
  if not id then
    return
  end
  if has_011 then
    client:cancel_request(id)
  else
    client.cancel_request(id)
  end
end

-- Byte column of an LSP character offset on a line, in the negotiated encoding.
local function byte_col(line, character, encoding)
  if encoding == "utf-8" then
    return math.min(character, #line)
  end
  local ok, col
  if has_011 then
    ok, col = pcall(vim.str_byteindex, line, encoding, character, false)
  else
    ok, col = pcall(vim.str_byteindex, line, character, encoding == "utf-16")
  end
  return ok and col or #line
end

local function get_line(bufnr, row)
  return api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ""
end

local function cursor()
  local pos = api.nvim_win_get_cursor(0)
  return pos[1] - 1, pos[2]
end

function M.clear(bufnr)
  bufnr = bufnr or api.nvim_get_current_buf()
  local st = state[bufnr]
  api.nvim_buf_clear_namespace(bufnr, ns, 0, -1)
  if st then
    st.suggestion = nil
    st.extmark = nil
  end
end

local function draw(bufnr, st)
  api.nvim_buf_clear_namespace(bufnr, ns, 0, -1)
  local s = st.suggestion
  if not s or s.text == "" then
    st.extmark = nil
    return
  end
  local hl = cfg().hl_group
  local lines = vim.split(s.text, "\n", { plain = true })
  local virt_lines = {}
  for i = 2, #lines do
    virt_lines[#virt_lines + 1] = { { lines[i], hl } }
  end
  local opts = {
    virt_text = { { lines[1], hl } },
    virt_text_pos = vim.fn.has("nvim-0.10") == 1 and "inline" or "overlay",
    hl_mode = "combine",
  }
  if #virt_lines > 0 then
    opts.virt_lines = virt_lines
  end
  st.extmark = api.nvim_buf_set_extmark(bufnr, ns, s.row, s.col, opts)
end

-- Turn a server item into a suggestion anchored at the cursor, or nil when it does not fit.
local function suggestion_of(bufnr, item, encoding, row, col)
  local text = item.insertText
  if type(text) == "table" then
    text = text.value or "" -- a snippet: shown and inserted as its plain text
  end
  if type(text) ~= "string" then
    return nil
  end
  local line = get_line(bufnr, row)
  local start_col, end_col = col, col
  if item.range then
    if item.range.start.line ~= row or item.range["end"].line ~= row then
      return nil -- we only draw suggestions anchored on the cursor's line
    end
    start_col = byte_col(line, item.range.start.character, encoding)
    end_col = byte_col(line, item.range["end"].character, encoding)
  end
  if start_col > col then
    return nil
  end
  -- The part of the range before the cursor is already typed: skip it.
  local typed = line:sub(start_col + 1, col)
  if text:sub(1, #typed) ~= typed then
    return nil
  end
  text = text:sub(#typed + 1)
  return { row = row, col = col, end_col = math.max(end_col, col), text = text }
end

local function on_result(bufnr, st, tick, row, col, encoding)
  return function(err, result)
    st.request_id = nil
    if err or not result then
      return
    end
    -- Stale: the text or the cursor moved while the server was thinking.
    if not api.nvim_buf_is_valid(bufnr) or api.nvim_get_current_buf() ~= bufnr
      or api.nvim_buf_get_changedtick(bufnr) ~= tick or api.nvim_get_mode().mode:sub(1, 1) ~= "i" then
      return
    end
    local r, c = cursor()
    if r ~= row or c ~= col then
      return
    end
    local items = {}
    for _, raw in ipairs(result.items or result) do
      local s = suggestion_of(bufnr, raw, encoding, row, col)
      if s and s.text ~= "" then
        items[#items + 1] = s
      end
    end
    if #items == 0 then
      M.clear(bufnr)
      return
    end
    st.suggestion = vim.tbl_extend("force", items[1], { items = items, index = 1 })
    draw(bufnr, st)
  end
end

--- Ask the server for a suggestion at the cursor now.
---@param invoked boolean? true when the user asked explicitly
function M.request(bufnr, invoked)
  bufnr = bufnr or api.nvim_get_current_buf()
  local st = state[bufnr]
  local client = st and vim.lsp.get_client_by_id(st.client_id)
  if not client then
    return false
  end
  cancel(client, st.request_id)
  local row, col = cursor()
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  params.context = { triggerKind = invoked and 1 or 2 } -- Invoked / Automatic
  local tick = api.nvim_buf_get_changedtick(bufnr)
  local ok, id = request(client, "textDocument/inlineCompletion", params,
    on_result(bufnr, st, tick, row, col, client.offset_encoding), bufnr)
  st.request_id = ok and id or nil
  return ok
end

local function schedule(bufnr)
  local st = state[bufnr]
  if not st or not require("lsp_server").enabled then
    return
  end
  st.timer:stop()
  st.timer:start(cfg().debounce_ms, 0, vim.schedule_wrap(function()
    if api.nvim_buf_is_valid(bufnr) and api.nvim_get_current_buf() == bufnr
      and api.nvim_get_mode().mode:sub(1, 1) == "i" then
      M.request(bufnr, false)
    end
  end))
end

-- After an edit or a move: keep the suggestion when what was typed since it was drawn is its
-- beginning (typing through it), otherwise clear it and ask again.
local function on_change(bufnr)
  local st = state[bufnr]
  if not st then
    return
  end
  local s = st.suggestion
  local row, col = cursor()
  if s and row == s.row and col >= s.col then
    local typed = get_line(bufnr, row):sub(s.col + 1, col)
    if s.text:sub(1, #typed) == typed and #typed < #s.text and not typed:find("\n", 1, true) then
      if #typed > 0 then
        s.text, s.col = s.text:sub(#typed + 1), col
        s.end_col = math.max(s.end_col, col)
        draw(bufnr, st)
      end
      return
    end
  end
  M.clear(bufnr)
  schedule(bufnr)
end

function M.attach(bufnr, client_id)
  if state[bufnr] then
    state[bufnr].client_id = client_id
    return
  end
  state[bufnr] = { client_id = client_id, timer = uv.new_timer() }
  local group = api.nvim_create_augroup("lsp_server_ghost_" .. bufnr, { clear = true })
  api.nvim_create_autocmd({ "InsertEnter", "TextChangedI", "CursorMovedI" }, {
    group = group,
    buffer = bufnr,
    callback = function() on_change(bufnr) end,
  })
  api.nvim_create_autocmd({ "InsertLeave", "BufLeave" }, {
    group = group,
    buffer = bufnr,
    callback = function()
      local st = state[bufnr]
      if st then
        st.timer:stop()
        local client = vim.lsp.get_client_by_id(st.client_id)
        if client then
          cancel(client, st.request_id)
        end
        st.request_id = nil
      end
      M.clear(bufnr)
    end,
  })
  api.nvim_create_autocmd({ "BufUnload", "LspDetach" }, {
    group = group,
    buffer = bufnr,
    callback = function(ev)
      if ev.event == "LspDetach" and ev.data and ev.data.client_id ~= client_id then
        return
      end
      M.detach(bufnr)
    end,
  })
end

function M.detach(bufnr)
  local st = state[bufnr]
  if not st then
    return
  end
  st.timer:stop()
  st.timer:close()
  state[bufnr] = nil
  pcall(api.nvim_del_augroup_by_name, "lsp_server_ghost_" .. bufnr)
  pcall(api.nvim_buf_clear_namespace, bufnr, ns, 0, -1)
end

--- The suggestion on screen in the current buffer, or nil.
function M.current(bufnr)
  local st = state[bufnr or api.nvim_get_current_buf()]
  return st and st.suggestion
end

-- The first `n` bytes of a suggestion, by kind of acceptance.
local function prefix_len(text, kind)
  if kind == "word" then
    local _, e = text:find("^%s*[%w_]+")
    if not e then
      _, e = text:find("^%s*[^%w_%s]+")
    end
    return e or #text
  elseif kind == "line" then
    -- The rest of the current line; at a line end, the line break and the next line.
    local nl = text:find("\n", 1, true)
    if nl == 1 then
      local nxt = text:find("\n", 2, true)
      return nxt and nxt - 1 or #text
    end
    return nl and nl - 1 or #text
  end
  return #text
end

--- Insert all of the suggestion, or its next word or line. Returns false when there is none.
---@param kind "all"|"word"|"line"|nil
function M.accept(kind)
  local bufnr = api.nvim_get_current_buf()
  local st = state[bufnr]
  local s = st and st.suggestion
  if not s then
    return false
  end
  local n = prefix_len(s.text, kind or "all")
  local insert = s.text:sub(1, n)
  local rest = s.text:sub(n + 1)
  local lines = vim.split(insert, "\n", { plain = true })
  -- Accepting all replaces the item's range; a part is inserted and the rest stays on screen.
  local end_col = rest == "" and s.end_col or s.col
  api.nvim_buf_set_text(bufnr, s.row, s.col, s.row, end_col, lines)
  local row = s.row + #lines - 1
  local col = (#lines == 1 and s.col or 0) + #lines[#lines]
  if rest ~= "" then
    st.suggestion = { row = row, col = col, end_col = math.max(col, s.end_col - s.col + col),
      text = rest, items = { }, index = 1 }
    st.suggestion.items[1] = st.suggestion
  else
    st.suggestion = nil
  end
  api.nvim_win_set_cursor(0, { row + 1, col })
  draw(bufnr, st)
  return true
end

function M.dismiss()
  local bufnr = api.nvim_get_current_buf()
  if not M.current(bufnr) then
    return false
  end
  local st = state[bufnr]
  st.timer:stop()
  M.clear(bufnr)
  return true
end

--- Show the next (+1) or previous (-1) of the server's items.
function M.cycle(step)
  local bufnr = api.nvim_get_current_buf()
  local st = state[bufnr]
  local s = st and st.suggestion
  if not s or #s.items < 2 then
    return s ~= nil
  end
  local index = (s.index - 1 + step) % #s.items + 1
  st.suggestion = vim.tbl_extend("force", s.items[index], { items = s.items, index = index })
  draw(bufnr, st)
  return true
end

return M
