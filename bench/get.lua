-- wrk script for bench/queue.py: GET a URL with a Bearer token, count what is not 200.
--
-- The token comes after `--` (after a tag that only names the run). Responses other than
-- 200 are counted per thread and reported by done() on one line starting with "BENCH ", the
-- same line post.lua prints (`created` counts the 200s here), which bench/_common.py parses.
--
--   wrk -t1 -c32 -d10s --latency -s bench/get.lua http://127.0.0.1:8000/v1/staff/requests?limit=50 -- run1 TOKEN

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  tag = args[1] or "run"
  local token = args[2]
  created = 0
  other = 0
  statuses = ""
  local headers = { ["Accept"] = "application/json" }
  if token and token ~= "" then
    headers["Authorization"] = "Bearer " .. token
  end
  req = wrk.format("GET", nil, headers, nil)
end

function request()
  return req
end

function response(status, _headers, _body)
  if status == 200 then
    created = created + 1
  else
    other = other + 1
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
