-- wrk script: POST /api/v1/messages as one user, spreading the load over the
-- conversations in $CONVS (comma-separated), round-robin per request.
local token = os.getenv("TOKEN")
local convs = {}
for id in string.gmatch(os.getenv("CONVS") or "", "[^,]+") do table.insert(convs, id) end
local n = 0

request = function()
  n = n + 1
  local conv = convs[(n % #convs) + 1]
  local body = '{"conversation_id":"' .. conv .. '","type":"text","content":"load test message ' .. n .. '"}'
  return wrk.format("POST", "/api/v1/messages",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }, body)
end

done = function(summary, latency, requests)
  io.write(string.format("non-2xx or socket errors: %d\n",
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
