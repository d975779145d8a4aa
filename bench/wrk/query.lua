-- GET /api/v2/token/query?types=T&principals=P&limit=L&page=PAGE, rotating
-- over the largest (type, principal) groups written by tokend_seed, as the
-- seeded admin. Every answer carries the exact totalElements.
--   wrk -t2 -c4 -d10s -s query.lua URL -- SECRETS_FILE PAGE [LIMIT]
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

local requests = {}
local n = 0

function init(args)
  local data = common.read_secrets(args[1])
  local page = tonumber(args[2] or "0")
  local limit = tonumber(args[3] or "10")
  local headers = { ["Authorization"] = "Bearer " .. data.admin }
  assert(#data.queries > 0, "no query groups in " .. args[1])
  for _, q in ipairs(data.queries) do
    local path = string.format("/api/v2/token/query?types=%s&principals=%s&limit=%d&page=%d",
                               q.type, q.principal, limit, page)
    table.insert(requests, wrk.format("GET", path, headers))
  end
end

function request()
  n = n % #requests + 1
  return requests[n]
end

function done(summary, latency, requests)
  common.report(summary, latency)
end
