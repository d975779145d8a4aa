-- POST /api/v2/token/introspect with {"token":"<secret>"}, each secret taken
-- once from a file (one secret per line), as the seeded admin: the cold and
-- unknown-secret scenarios, where no request may be answered from what an
-- earlier one put in the cache.
--   wrk -tT -cC -d3s -s introspect_stream.lua URL -- SECRETS_FILE STREAM_FILE T [cycle]
-- Thread i of T walks its own slice of STREAM_FILE (lines i, i+T, i+2T, ...),
-- so threads never overlap and no secret repeats. A thread that reaches the
-- end of its slice starts over and counts the repeats: the summary line gets
-- repeats=N, and a run with repeats measured partly the cache. With "cycle",
-- the slice is walked over and over on purpose (the hot figure measured with
-- the same client work: a small file of known secrets).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

local threads = {}
local next_thread_id = 0

function setup(thread)
  thread:set("thread_id", next_thread_id)
  next_thread_id = next_thread_id + 1
  table.insert(threads, thread)
end

local headers
local secrets = {}
local n = 0
repeats = 0

function init(args)
  local data = common.read_secrets(args[1])
  headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. data.admin,
  }
  local thread_count = tonumber(args[3] or "1")
  local file = assert(io.open(args[2], "r"), "cannot open stream file " .. tostring(args[2]))
  local line_number = 0
  for line in file:lines() do
    if line_number % thread_count == thread_id and #line > 0 then table.insert(secrets, line) end
    line_number = line_number + 1
  end
  file:close()
  assert(#secrets > 0, "no secrets for thread " .. thread_id .. " in " .. args[2])
  cycle = args[4] == "cycle"
end

function request()
  n = n + 1
  if n > #secrets then
    n = 1
    if not cycle then repeats = repeats + #secrets end
  end
  return wrk.format("POST", "/api/v2/token/introspect", headers,
                    '{"token":"' .. secrets[n] .. '"}')
end

function done(summary, latency, requests)
  -- Repeats: what each thread walked beyond its slice (the requests of its
  -- last, unfinished walk are not all repeats, so this may overcount by at
  -- most one slice; any non-zero value means the run was too long or the
  -- file too short).
  local total = 0
  for _, thread in ipairs(threads) do total = total + (thread:get("repeats") or 0) end
  common.report(summary, latency, { repeats = total })
end
