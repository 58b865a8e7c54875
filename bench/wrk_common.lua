-- Shared by the wrk scripts of bench/: per-thread ids and seeded randomness, status counts,
-- and a JSON line (BENCH_JSON {...}) in done() that bench/common.py reads.
local M = {}
local threads = {}

-- setup() runs in the main Lua state once per thread before it starts.
function M.setup(thread)
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end

-- Called from each script's init(): a seeded, per-thread random sequence.
function M.init()
  local seed = tonumber(os.getenv("BENCH_SEED") or "2025")
  math.randomseed(seed * 1000 + thread_id)
  statuses = {}
end

function M.response(status)
  statuses[status] = (statuses[status] or 0) + 1
end

function M.env_list(name, separator)
  local list = {}
  for item in string.gmatch(os.getenv(name) or "", "[^" .. (separator or ",") .. "]+") do
    table.insert(list, item)
  end
  return list
end

-- The lines of a file (writers' assignments: one line per thread).
function M.lines(path)
  local list = {}
  for line in io.lines(path) do
    if line ~= "" then table.insert(list, line) end
  end
  return list
end

function M.done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses") or {}
    for status, count in pairs(counts) do
      total[status] = (total[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(total) do
    table.insert(parts, string.format('"%d": %d', status, count))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "seconds": %.6f, "p50": %d, "p90": %d, "p99": %d, "max": %d, ' ..
    '"statuses": {%s}, "errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, table.concat(parts, ", "),
    e.connect, e.read, e.write, e.timeout))
end

return M
