-- wrk script: POST /api/v1/messages/{id}/read, round-robin over the
-- (token, message id) pairs in the file $RECEIPTS_FILE (a "token|id" line each): each
-- reader marks messages of their own conversation. Counts 200 answers per
-- thread (the acknowledged receipts) and every other answer apart, which
-- fails the bench.
local pairs_ = {}
for line in io.lines(os.getenv("RECEIPTS_FILE")) do
  local token, id = string.match(line, "([^|]+)|([^|]+)")
  if token then table.insert(pairs_, { token = token, id = id }) end
end
local n = 0
acked = 0
refused = 0

local threads = {}
setup = function(thread)
  table.insert(threads, thread)
end

request = function()
  n = n + 1
  local p = pairs_[(n % #pairs_) + 1]
  return wrk.format("POST", "/api/v1/messages/" .. p.id .. "/read",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. p.token }, "{}")
end

response = function(status, headers, body)
  if status == 200 then acked = acked + 1 else refused = refused + 1 end
end

done = function(summary, latency, requests)
  local ok, other = 0, 0
  for _, t in ipairs(threads) do
    ok = ok + t:get("acked")
    other = other + t:get("refused")
  end
  local errors = summary.errors
  io.write(string.format("answers other than 200: %d\n", other))
  io.write(string.format("socket errors: %d\n",
    errors.connect + errors.read + errors.write + errors.timeout))
  io.write(string.format("acknowledged (200): %d\n", ok))
  io.write(string.format("acknowledged/s: %.1f\n", ok / (summary.duration / 1e6)))
end
