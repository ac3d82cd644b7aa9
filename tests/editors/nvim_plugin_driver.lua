-- Drives headless Neovim with the editors/nvim plugin as a user would: setup{}, open a file,
-- append in insert mode (keys through nvim_input), wait for the ghost text, accept it with the
-- plugin's keys. Writes what it saw to a JSON file. Run with `-S` (not `-l`) so that Neovim's
-- main loop processes the typed keys; each step is polled from a timer.
-- Environment: PLUGIN (editors/nvim), LSP_CMD (JSON list), FILE, MODEL, OUT.
local result = { steps = {} }
local out = os.getenv("OUT")

local function finish(err)
  if err then
    result.error = tostring(err)
  end
  local fh = io.open(out, "w")
  if fh then
    fh:write(vim.json.encode(result))
    fh:close()
  end
  vim.cmd(err and "cquit 1" or "qall!")
end

local function guard(fn)
  return function(...)
    local ok, err = pcall(fn, ...)
    if not ok then
      finish(err)
    end
  end
end

-- Poll `cond` every 50 ms; then `next`, or fail after `ms`.
local function wait_for(what, ms, cond, next)
  local start = vim.uv.now()
  local timer = vim.uv.new_timer()
  timer:start(0, 50, vim.schedule_wrap(guard(function()
    if not timer:is_active() then
      return
    end
    local value = cond()
    if value then
      timer:stop()
      timer:close()
      result.steps[#result.steps + 1] = { what = what, ms = vim.uv.now() - start }
      next(value)
    elseif vim.uv.now() - start > ms then
      timer:stop()
      timer:close()
      finish("timed out waiting for " .. what)
    end
  end)))
end

local function ghost_marks(buf, ns)
  local marks = vim.api.nvim_buf_get_extmarks(buf, ns, 0, -1, { details = true })
  local shown = {}
  for _, m in ipairs(marks) do
    local d = m[4]
    local first = {}
    for _, chunk in ipairs(d.virt_text or {}) do
      first[#first + 1] = chunk[1]
    end
    local rest = {}
    for _, vl in ipairs(d.virt_lines or {}) do
      local parts = {}
      for _, chunk in ipairs(vl) do
        parts[#parts + 1] = chunk[1]
      end
      rest[#rest + 1] = table.concat(parts)
    end
    shown[#shown + 1] = { row = m[2], col = m[3], first = table.concat(first), rest = rest,
      pos = d.virt_text_pos }
  end
  return shown
end

local main = guard(function()
  vim.opt.rtp:prepend(os.getenv("PLUGIN"))
  vim.opt.swapfile = false
  local plugin = require("lsp_server")
  local ghost = require("lsp_server.ghost")
  plugin.setup({
    cmd = vim.json.decode(os.getenv("LSP_CMD")),
    settings = { ["local"] = { modelPath = os.getenv("MODEL"), threads = 2 } },
    inline = { debounce_ms = 30 },
  })
  local file = os.getenv("FILE")
  vim.cmd.edit(file)
  local buf = vim.api.nvim_get_current_buf()
  local original = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  local last = #original

  local function line()
    return vim.api.nvim_buf_get_lines(buf, last - 1, last, false)[1]
  end

  wait_for("model ready", 60000, function()
    return plugin.client(buf) and plugin.status.localReady
  end, function()
    result.statusline = plugin.statusline()
    result.encoding = plugin.client(buf).offset_encoding
    vim.api.nvim_input("GA")
    wait_for("ghost text", 90000, function()
      local marks = ghost_marks(buf, ghost.ns)
      return #marks > 0 and marks
    end, function(marks)
      result.shown = marks
      result.mode_shown = vim.api.nvim_get_mode().mode
      result.suggestion = ghost.current(buf).text
      vim.api.nvim_input("<Tab>")
      wait_for("full accept", 5000, function()
        return line() ~= original[last]
      end, function()
        result.after_accept = vim.api.nvim_buf_get_lines(buf, last - 1, -1, false)
        result.cursor_after_accept = vim.api.nvim_win_get_cursor(0)
        vim.api.nvim_input("<Esc>")
        -- Back to the original text, then once more for a word-by-word accept.
        wait_for("normal mode", 5000, function()
          return vim.api.nvim_get_mode().mode == "n"
        end, function()
          vim.api.nvim_buf_set_lines(buf, 0, -1, false, original)
          vim.api.nvim_input("GA")
          wait_for("ghost text again", 90000, function()
            return ghost.current(buf) ~= nil and #ghost_marks(buf, ghost.ns) > 0
          end, function()
            result.second_suggestion = ghost.current(buf).text
            vim.api.nvim_input("<M-Right>")
            wait_for("word accept", 5000, function()
              return line() ~= original[last]
            end, function()
              result.after_word = line()
              local rest = ghost.current(buf)
              result.rest_after_word = rest and rest.text
              result.shown_after_word = ghost_marks(buf, ghost.ns)
              vim.api.nvim_input("<C-]>")
              wait_for("dismiss", 5000, function()
                return #ghost_marks(buf, ghost.ns) == 0
              end, function()
                result.mode_end = vim.api.nvim_get_mode().mode
                finish()
              end)
            end)
          end)
        end)
      end)
    end)
  end)
end)

vim.defer_fn(function() finish("driver deadline") end, 230000)
vim.schedule(main)
