-- wrk script: POST /api/v1/messages as one user, spreading the load over the
-- conversations in $CONVS (comma-separated), round-robin per request.
-- Counts 201 answers (the acknowledged sends: the only ones the bench counts
-- as throughput, so that it can check each is stored) and every other answer
-- apart, which fails the bench.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "bench-wrk-counts.lua")(201)

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
