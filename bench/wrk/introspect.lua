-- POST /api/v2/token/introspect with {"token":"<secret>"}, rotating over the
-- active secrets written by tokend_seed, as the seeded admin.
--   wrk -t2 -c64 -d10s -s introspect.lua URL -- SECRETS_FILE
-- Against the nginx baseline the same requests are sent (nginx ignores them).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

local requests = {}
local n = 0

function init(args)
  local data = common.read_secrets(args[1])
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. data.admin,
  }
  local secrets = data.tokens
  if #secrets == 0 then secrets = { data.admin } end
  for _, secret in ipairs(secrets) do
    table.insert(requests, wrk.format("POST", "/api/v2/token/introspect", headers,
                                      '{"token":"' .. secret .. '"}'))
  end
end

function request()
  n = n % #requests + 1
  return requests[n]
end

function done(summary, latency, requests)
  common.report(summary, latency)
end
