-- POST /api/v2/token: durable creates of user tokens, as the seeded admin.
--   wrk -t2 -c64 -d10s -s create.lua URL -- SECRETS_FILE
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
  -- A few principals, so that creates spread over counter rows as in real use.
  for i = 0, 15 do
    local body = string.format(
      '{"type":"user","name":"bench create","principal":"bench-user-%02d",' ..
      '"description":"created under load","permissions":["workflow/read","token/read"]}', i)
    table.insert(requests, wrk.format("POST", "/api/v2/token", headers, body))
  end
end

function request()
  n = n % #requests + 1
  return requests[n]
end

function done(summary, latency, requests)
  common.report(summary, latency)
end
