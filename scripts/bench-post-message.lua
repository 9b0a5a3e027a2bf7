-- wrk script: POST /api/v1/messages as one user, spreading the load over the
-- conversations in $CONVS (comma-separated), round-robin per request.
-- Counts 201 answers per thread, so the bench can check that every
-- acknowledged send is stored.
local token = os.getenv("TOKEN")
local convs = {}
for id in string.gmatch(os.getenv("CONVS") or "", "[^,]+") do table.insert(convs, id) end
local n = 0
created = 0

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
  if status == 201 then created = created + 1 end
end

done = function(summary, latency, requests)
  local acked = 0
  for _, t in ipairs(threads) do acked = acked + t:get("created") end
  io.write(string.format("non-2xx or socket errors: %d\n",
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  io.write(string.format("acknowledged (201): %d\n", acked))
end
