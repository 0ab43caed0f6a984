-- wrk script for bench/staff_queue.py: GET a URL with a Bearer token, count what is not 200.
--
-- The token comes after `--` (after a tag that only names the run). The counting and the
-- "BENCH " line that bench/_common.py parses are in _wrk.lua, next to this file.
--
--   wrk -t1 -c32 -d10s --latency -s bench/get.lua http://127.0.0.1:8000/v1/staff/requests?limit=50 -- run1 TOKEN

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "_wrk.lua")

expected = 200

function init(args)
  start_counting(args)
  local token = args[2]
  local headers = { ["Accept"] = "application/json" }
  if token and token ~= "" then
    headers["Authorization"] = "Bearer " .. token
  end
  req = wrk.format("GET", nil, headers, nil)
end

function request()
  return req
end
