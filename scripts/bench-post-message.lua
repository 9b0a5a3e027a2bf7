-- wrk script: POST /api/v1/messages as one user, spreading the load over the
-- conversations in $CONVS (comma-separated), round-robin per request.
-- Counts 201 answers per thread (the acknowledged sends: the only ones the
-- bench counts as throughput, so that it can check each is stored) and every
-- other answer apart, which fails the bench.
local token = os.getenv("TOKEN")
local convs = {}
for id in string.gmatch(os.getenv("CONVS") or "", "[^,]+") do table.insert(convs, id) end
local n = 0
created = 0
refused = 0

local threads = {}
setup = function(thread)
  table.insert(threads, thread)
end

request = function()
  n = n + 1
  local conv = convs[(n % #convs) + 1]
  local body = '{"conversation_id":"' .. conv .. '","type":"text","content":"load test message ' .. n .. '"}'
  return wrk.format("POST", "/api/v1/messages",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }, body)
end

response = function(status, headers, body)
  if status == 201 then created = created + 1 else refused = refused + 1 end
end

done = function(summary, latency, requests)
  local acked, other = 0, 0
  for _, t in ipairs(threads) do
    acked = acked + t:get("created")
    other = other + t:get("refused")
  end
  local errors = summary.errors
  io.write(string.format("answers other than 201: %d\n", other))
  io.write(string.format("socket errors: %d\n",
    errors.connect + errors.read + errors.write + errors.timeout))
  io.write(string.format("acknowledged (201): %d\n", acked))
  io.write(string.format("acknowledged/s: %.1f\n", acked / (summary.duration / 1e6)))
end
