-- wrk script for bench/intake.py: POST /v1/requests with a JSON body, count what is not 201.
--
-- Every request carries its own e-mail address (thread id + counter, plus an optional tag
-- given after `--`), so no two requests are identical. The counting and the "BENCH " line
-- that bench/_common.py parses are in _wrk.lua, next to this file.
--
--   wrk -t1 -c16 -d10s --latency -s bench/post.lua http://127.0.0.1:8000/v1/requests -- run1

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "_wrk.lua")

expected = 201

local counter = 0
local head = '{"type":"access","subject":{"name":"홍길동","email":"bench.'
local tail = '@example.com","phone":"010-1234-5678"},"locale":"ko"}'
local headers = { ["Content-Type"] = "application/json", ["Accept"] = "application/json" }

function init(args)
  start_counting(args)
end

function request()
  counter = counter + 1
  local body = head .. tag .. "." .. tid .. "." .. counter .. tail
  return wrk.format("POST", nil, headers, body)
end
