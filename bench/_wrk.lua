-- What bench/get.lua and bench/post.lua share, loaded by each with dofile (see their first
-- lines): setup() numbers the threads, response() counts the answers with the status the
-- script sets in `expected` and the others (remembering the first few distinct unexpected
-- statuses), and done() prints the totals on one line starting with "BENCH ", which
-- bench/_common.py parses (`created` counts the expected answers, `non201` the others, whatever
-- `expected` is); wrk's own summary (with --latency) is printed as usual above it.

local threads = {}

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

-- Called first by each script's init(): the run's tag (the first argument after `--`) and
-- this thread's counters.
function start_counting(args)
  tag = args[1] or "run"
  created = 0
  other = 0
  statuses = ""
end

function response(status, _headers, _body)
  if status == expected then
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
