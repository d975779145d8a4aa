-- GET /api/orders with a token's Bearer header, rotating over the active
-- secrets written by tokend_seed: a request a gateway checks with tokend
-- (GET /api/v2/token/check through nginx auth_request) before passing it on.
--   wrk -t2 -c64 -d10s -s gateway.lua URL -- SECRETS_FILE
-- Against the baseline (nginx passing every request on unchecked) the same
-- requests are sent.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

local requests = {}
local n = 0

function init(args)
  local data = common.read_secrets(args[1])
  local secrets = data.tokens
  if #secrets == 0 then secrets = { data.admin } end
  for _, secret in ipairs(secrets) do
    table.insert(requests, wrk.format("GET", "/api/orders", { ["Authorization"] = "Bearer " .. secret }))
  end
end

function request()
  n = n % #requests + 1
  return requests[n]
end

function done(summary, latency, requests)
  common.report(summary, latency)
end
