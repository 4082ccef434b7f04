-- wrk script of the serve_load bench: audited writes (a new adverse event,
-- then its retraction "entered in error") or casebook reads, through
-- `isatrial serve` as a site's browser or client would send them.
--
-- Arguments after `--`: mode ("write" or "read"), session cookie, CSRF
-- token, a file of "patient_id,onset_date" lines (patients alive at the
-- cut-off, each with a date on which an AE may start), and the step's
-- number, which keeps AE ids unique across the steps of a run.
--
-- Each wrk thread keeps the AEs it entered in a queue; its next write
-- retracts one of them, so casebooks keep a real trial's size however long
-- the run. A retraction is sent only after its insert was answered 201.

local thread_number = 0
local threads = {}

function setup(thread)
  thread:set("number", thread_number)
  thread_number = thread_number + 1
  table.insert(threads, thread)
end

function init(args)
  mode, cookie, csrf, step = args[1], args[2], args[3], args[5]
  patients = {}
  for line in io.lines(args[4]) do
    local id, onset = line:match("([^,]+),([^,]+)")
    patients[#patients + 1] = { id, onset }
  end
  headers = {
    ["Cookie"] = "isatrial_session=" .. cookie,
    ["X-CSRF-Token"] = csrf,
    ["Content-Type"] = "application/json",
  }
  entered = {}
  sent = 0
  refused = 0
end

local function patient()
  sent = sent + 1
  return patients[(sent * 7919 + number * 104729) % #patients + 1]
end

function request()
  if mode == "read" then
    local p = patient()
    return wrk.format("GET", "/api/patients/" .. p[1] .. "/casebook", headers)
  end
  local ae = table.remove(entered)
  if ae then
    return wrk.format("DELETE", "/api/adverse_events/" .. ae, headers,
      '{"version":1,"reason":"entered in error"}')
  end
  local p = patient()
  local id = string.format("WRK%s%d%09d", step, number, sent)
  local body = string.format(
    '{"record":{"patient_id":"%s","ae_id":"%s","term":"Fatigue","grade":1,' ..
    '"onset_date":"%s","serious":false,"relatedness":"unlikely"}}',
    p[1], id, p[2])
  return wrk.format("POST", "/api/adverse_events", headers, body)
end

function response(status, _, body)
  if status == 201 then
    local id = body:match('"ae_id":"(WRK[0-9]+)"')
    if id then
      table.insert(entered, id)
    end
  elseif status ~= 200 then
    refused = refused + 1
  end
end

function done(summary, latency, _)
  local refusals = 0
  for _, thread in ipairs(threads) do
    refusals = refusals + thread:get("refused")
  end
  io.write(string.format(
    "RESULT requests=%d seconds=%.6f p50_ms=%.3f p99_ms=%.3f refused=%d socket_errors=%d\n",
    summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1e3, latency:percentile(99) / 1e3,
    refusals,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
