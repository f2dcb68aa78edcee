-- wrk's script for bench_decisions: POST /v1/decisions with a unique withdrawal.requested
-- each (the same bodies as bench_decisions.body(i)), a decision:request token, and the
-- answers counted by status; each thread stops at its share of N answers and says so
-- ("WRK_DONE"), and bench_decisions then interrupts wrk (which prints its summary).
--
--   wrk -tT -cC -d600s -s bench/bench_decisions.lua URL -- TOKEN N OFFSET T
--
-- Thread k of T posts the ids OFFSET + k, + k + T, ... (wrk asks the first thread for one
-- request before the run, to check it: that call does not move the count).
--
-- done() prints one JSON line (prefixed "WRK_RESULT ") that bench_decisions reads: the
-- answers by status, the decisions by outcome, the fail-safe answers and the latency
-- percentiles (of every answer: a run with any non-2xx answer fails anyway).

local threads = {}

function setup(thread)
   thread:set("index", #threads)
   table.insert(threads, thread)
end

local token, n, offset, step
local sent, answered = 0, 0
local checking = false -- the next request() is wrk's check, not sent
codes = {}
decisions = {}
failsafe = 0
first_refusal = ""

function init(args)
   token, n, offset, step = args[1], tonumber(args[2]), tonumber(args[3]), tonumber(args[4])
   sent = offset + wrk.thread:get("index")
   checking = wrk.thread:get("index") == 0
   wrk.method = "POST"
   wrk.path = "/v1/decisions"
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Authorization"] = "Bearer " .. token
end

local function body(i)
   local usd
   if i % 20 == 0 then usd = 25000 + i % 7 else usd = 50 + i % 900 end
   return string.format(
      '{"type": "withdrawal.requested", "event_id": "bench-%d", "account_id": "acc-%d", '
         .. '"occurred_at": "2026-01-01T%02d:%02d:%02dZ", "asset": "USDT", "amount": "%d", '
         .. '"usd_value": "%d.00", "address": "T%033d", "chain": "tron", "ip": "10.0.%d.%d"}',
      i, i % 5000, math.floor(i / 3600) % 24, math.floor(i / 60) % 60, i % 60, usd, usd,
      i % 3000, i % 250, i % 200)
end

function request()
   local i = sent
   if checking then
      checking = false
   else
      sent = sent + step
   end
   return wrk.format(nil, nil, nil, body(i))
end

function response(status, headers, answer)
   codes[status] = (codes[status] or 0) + 1
   if status >= 200 and status < 300 then
      local decision = string.match(answer, '"decision":"(%a+)"')
      if decision then decisions[decision] = (decisions[decision] or 0) + 1 end
      if string.find(answer, '"rule_id":"FAILSAFE"', 1, true) then failsafe = failsafe + 1 end
   elseif first_refusal == "" then
      first_refusal = status .. ": " .. string.sub(answer, 1, 300)
   end
   answered = answered + 1
   if answered == math.ceil(n / step) then
      -- wrk's main thread sleeps out -d whatever its threads do: bench_decisions sends it
      -- SIGINT when every thread has said this
      io.write("WRK_DONE\n")
      io.stdout:flush()
      wrk.thread:stop()
   end
end

local function json_string(text)
   local escaped = string.gsub(text, '[%c"\\]', function(c)
      return string.format("\\u%04x", string.byte(c))
   end)
   return '"' .. escaped .. '"'
end

local function json_map(map)
   local parts = {}
   for key, count in pairs(map) do
      table.insert(parts, string.format('"%s": %d', tostring(key), count))
   end
   return "{" .. table.concat(parts, ", ") .. "}"
end

function done(summary, latency, requests)
   local all_codes, all_decisions, all_failsafe, refusals = {}, {}, 0, {}
   for _, thread in ipairs(threads) do
      for code, count in pairs(thread:get("codes")) do
         all_codes[code] = (all_codes[code] or 0) + count
      end
      for decision, count in pairs(thread:get("decisions")) do
         all_decisions[decision] = (all_decisions[decision] or 0) + count
      end
      all_failsafe = all_failsafe + thread:get("failsafe")
      local refusal = thread:get("first_refusal")
      if refusal ~= "" then table.insert(refusals, json_string(refusal)) end
   end
   io.write(string.format(
      'WRK_RESULT {"seconds": %f, "answers": %d, "codes": %s, "decisions": %s, '
         .. '"failsafe": %d, "p50 ms": %f, "p99 ms": %f, "socket errors": %d, "refused": [%s]}\n',
      summary.duration / 1e6, summary.requests, json_map(all_codes), json_map(all_decisions),
      all_failsafe, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
      summary.errors.connect + summary.errors.read + summary.errors.write
         + summary.errors.timeout,
      table.concat(refusals, ", ")))
end
