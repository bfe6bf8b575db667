-- wrk script: POST /api/v2/alerts with distinct alerts (Alertmanager API v2 list).
-- BATCH (environment) alerts per request; every alert has labels no other request used, in
-- this run and (with a distinct RUN in the environment) in any other.
local batch = tonumber(os.getenv("BATCH") or "1")
local run = os.getenv("RUN") or "0"
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  thread_id = id
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local parts = {}
  for i = 1, batch do
    counter = counter + 1
    parts[i] = string.format(
      '{"labels":{"alertname":"DiskFull","instance":"host-%s-%d-%d:9100","severity":"critical","job":"node"},' ..
      '"annotations":{"summary":"Disk almost full on host-%s-%d-%d"},"startsAt":"2026-11-01T10:00:00Z"}',
      run, thread_id, counter, run, thread_id, counter)
  end
  return wrk.format(nil, "/api/v2/alerts", nil, "[" .. table.concat(parts, ",") .. "]")
end
