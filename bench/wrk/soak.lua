-- Mixed load for the soak run: creates, introspections, queries and deletes
-- of the tokens this connection created, as the seeded admin. Every request
-- is expected to succeed: any non-2xx answer is an error of the run.
--   wrk -t2 -c16 -d60s -s soak.lua URL -- SECRETS_FILE
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

local admin
local secrets = {}
local created = {}  -- ids created by this thread and not yet deleted
local n = 0

function init(args)
  local data = common.read_secrets(args[1])
  admin = data.admin
  secrets = data.tokens
  if #secrets == 0 then secrets = { admin } end
end

local function headers()
  return { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. admin }
end

function request()
  n = n + 1
  local step = n % 8
  if step == 0 or step == 4 then
    return wrk.format("POST", "/api/v2/token", headers(),
      '{"type":"team","name":"soak","principal":"soak-team","permissions":["workflow/read"]}')
  elseif step == 2 and #created > 0 then
    local id = table.remove(created, 1)
    return wrk.format("DELETE", "/api/v2/token/" .. id, headers())
  elseif step == 6 then
    return wrk.format("GET", "/api/v2/token/query?types=team&principals=soak-team&limit=20&page=0",
                      headers())
  end
  local secret = secrets[(n % #secrets) + 1]
  return wrk.format("POST", "/api/v2/token/introspect", headers(), '{"token":"' .. secret .. '"}')
end

function response(status, hdrs, body)
  if status == 200 and body then
    local id, token = body:match('^{"id":"(%x+)","type":"team","token":"')
    if id then table.insert(created, id) end
  end
end

function done(summary, latency, requests)
  common.report(summary, latency)
end
