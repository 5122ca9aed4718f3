-- wrk script of bench/api.py: POSTs form bodies (as reseller clients send them), checks answers.
--
--   wrk ... -s bench/wrk/api.lua URL -- DATA_FILE SCENARIO RUN_TAG
--
-- DATA_FILE, written by bench/api.py, has one `scenario<TAB>body` line per body. Each thread
-- walks the bodies of SCENARIO from its own offset. For `add` bodies (they end with `link=`) a link unique to this run, thread and request is appended: the API refuses a second
-- active order for the same link. The answer is checked: HTTP 200 and no "error" in the body
-- (for `services`, a JSON array); an `add` counts its `{"order": …}` answers. done() prints one
-- line `BENCH_JSON {…}` that bench/api.py parses.

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

local threads = {}
local next_id = 1

function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  scenario = args[2]
  run_tag = args[3]
  bodies = {}
  for line in io.lines(args[1]) do
    local name, body = line:match("^([^\t]+)\t(.*)$")
    if name == scenario then
      table.insert(bodies, body)
    end
  end
  if #bodies == 0 then
    error("no bodies for scenario " .. tostring(scenario))
  end
  unique_links = bodies[1]:sub(-5) == "link="
  expect_array = scenario == "services"
  counts_orders = scenario:sub(1, 3) == "add"
  position = (thread_id * 7919) % #bodies
  sent = 0
  errors = 0
  orders = 0
  sample = ""
end

function request()
  position = position % #bodies + 1
  sent = sent + 1
  local body = bodies[position]
  if unique_links then
    body = body .. "https%3A%2F%2Finstagram.com%2F" .. run_tag .. "-" .. thread_id .. "-" .. sent
  end
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  local bad
  if status ~= 200 then
    bad = true
  elseif expect_array then
    bad = body:sub(1, 1) ~= "["
  else
    bad = body:find('"error"', 1, true) ~= nil
  end
  if bad then
    errors = errors + 1
    if sample == "" then
      sample = status .. " " .. body:sub(1, 200)
    end
  elseif counts_orders and body:find('{"order":', 1, true) == 1 then
    orders = orders + 1
  end
end

local function json_string(text)
  return '"' .. text:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

function done(summary, latency, requests)
  local answer_errors, orders_total, sample_text = 0, 0, ""
  for _, thread in ipairs(threads) do
    answer_errors = answer_errors + thread:get("errors")
    orders_total = orders_total + thread:get("orders")
    if sample_text == "" then sample_text = thread:get("sample") end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"answer_errors":%d,"socket_errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"orders":%d,"sample":%s}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, answer_errors, e.connect, e.read, e.write, e.status, e.timeout,
    orders_total, json_string(sample_text)))
end
