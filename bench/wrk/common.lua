-- Shared by the wrk scripts: reading the seed's secrets file and the
-- machine-readable summary line that bench/run.sh parses.
--
-- The secrets file (written by tokend_seed --secrets-out) has lines
-- "admin <secret>", "token <secret>" and "query <type> <principal> <count>".
local M = {}

function M.read_secrets(path)
  local data = { admin = nil, tokens = {}, queries = {} }
  local file = assert(io.open(path, "r"), "cannot open secrets file " .. tostring(path))
  for line in file:lines() do
    local kind, a, b, c = line:match("^(%S+)%s+(%S+)%s*(%S*)%s*(%S*)")
    if kind == "admin" then
      data.admin = a
    elseif kind == "token" then
      table.insert(data.tokens, a)
    elseif kind == "query" then
      table.insert(data.queries, { type = a, principal = b, count = tonumber(c) })
    end
  end
  file:close()
  assert(data.admin, "no admin secret in " .. path)
  return data
end

-- One line: "BENCH requests=... rps=... p50_us=... p99_us=... errors=...".
-- errors counts non-2xx/3xx answers and socket errors; run.sh reports them.
-- extra: more "key=value" fields for the line (numbers), optional.
function M.report(summary, latency, extra)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  local more = ""
  for key, value in pairs(extra or {}) do more = more .. string.format(" %s=%d", key, value) end
  io.write(string.format(
    "BENCH requests=%d seconds=%.2f rps=%.1f p50_us=%.0f p90_us=%.0f p99_us=%.0f max_us=%.0f " ..
    "non2xx=%d socket_errors=%d%s\n",
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect + e.read + e.write + e.timeout, more))
end

return M
