-- wrk script for bench/intake.py: POST /v1/requests with a JSON body.
--
-- Every request carries its own e-mail address (thread id + counter, plus an optional tag
-- given after `--`), so no two requests are identical. Responses other than 201 are counted
-- per thread and reported by done() on one line starting with "BENCH ", which intake.py
-- parses; wrk's own summary (with --latency) is printed as usual above it.
--
--   wrk -t1 -c16 -d10s --latency -s bench/post.lua http://127.0.0.1:8000/v1/requests -- run1

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  tag = args[1] or "run"
  created = 0
  other = 0
  statuses = ""
end

local head = '{"type":"access","subject":{"name":"홍길동","email":"bench.'
local tail = '@example.com","phone":"010-1234-5678"},"locale":"ko"}'
local headers = { ["Content-Type"] = "application/json", ["Accept"] = "application/json" }

function request()
  counter = counter + 1
  local body = head .. tag .. "." .. tid .. "." .. counter .. tail
  return wrk.format("POST", nil, headers, body)
end

function response(status, _headers, _body)
  if status == 201 then
    created = created + 1
  else
    other = other + 1
    -- Remember the first few distinct unexpected statuses for the report.
    if #statuses < 40 and not string.find(statuses, tostring(status), 1, true) then
      statuses = statuses .. tostring(status) .. ";"
    end
  end
end

function done(summary, latency, _requests)
  local ok, bad, seen = 0, 0, ""
  for _, t in ipairs(threads) do
    ok = ok + t:get("created")
    bad = bad + t:get("other")
    seen = seen .. t:get("statuses")
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d created=%d non201=%d statuses=%s "
      .. "connect=%d read=%d write=%d timeout=%d status=%d "
      .. "p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f\n",
    summary.requests, summary.duration, ok, bad, seen == "" and "-" or seen,
    e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean
  ))
end
