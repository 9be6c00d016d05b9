-- wrk script of bench/api.py: one scenario of the API under load.
--
--   ATIENDE_BENCH_TOKEN=atd_... wrk -c16 -d20s --latency -s bench/api_wrk.lua URL -- MODE IDS RUN
--
-- MODE is get (GET /api/v1/conversations/{id}), list (GET /api/v1/conversations?limit=25) or
-- reply (POST /api/v1/conversations/{id}/messages, a unique Idempotency-Key per request). IDS is
-- a file of conversation ids, one a line, taken in turn (each wrk thread starts elsewhere in the
-- list). RUN makes the idempotency keys of one run differ from every other run's. When done,
-- the figures are printed as one line starting with WRK_JSON (latencies in microseconds).

local next_thread = 1

function setup(thread)
  thread:set("thread_number", next_thread)
  next_thread = next_thread + 1
end

function init(args)
  mode = args[1]
  run = args[3] or "0"
  ids = {}
  for line in io.lines(args[2]) do
    if line ~= "" then
      ids[#ids + 1] = line
    end
  end
  position = ((thread_number or 1) * 7919) % #ids
  sent = 0
  headers = {
    ["Authorization"] = "Bearer " .. os.getenv("ATIENDE_BENCH_TOKEN"),
    ["Accept"] = "application/json",
  }
  if mode == "reply" then
    headers["Content-Type"] = "application/json"
  end
end

function request()
  position = position % #ids + 1
  local conversation = ids[position]
  if mode == "list" then
    return wrk.format("GET", "/api/v1/conversations?limit=25", headers)
  elseif mode == "reply" then
    sent = sent + 1
    headers["Idempotency-Key"] = string.format("bench-%s-%d-%d", run, thread_number or 1, sent)
    local body = string.format(
      '{"body_text": "Gracias por escribirnos. Hemos revisado el caso %s y le respondemos en '
        .. 'breve (respuesta %d)."}',
      conversation,
      sent
    )
    return wrk.format("POST", "/api/v1/conversations/" .. conversation .. "/messages", headers, body)
  end
  return wrk.format("GET", "/api/v1/conversations/" .. conversation, headers)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(
    string.format(
      'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, '
        .. '"read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, '
        .. '"mean_us": %.1f, "max_us": %d, "p50_us": %d, "p90_us": %d, "p95_us": %d, '
        .. '"p99_us": %d}\n',
      summary.requests,
      summary.duration,
      summary.bytes,
      errors.connect,
      errors.read,
      errors.write,
      errors.status,
      errors.timeout,
      latency.mean,
      latency.max,
      latency:percentile(50),
      latency:percentile(90),
      latency:percentile(95),
      latency:percentile(99)
    )
  )
end
