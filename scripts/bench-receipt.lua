-- wrk script: POST /api/v1/messages/{id}/read, round-robin over the
-- (token, message id) pairs in the file $RECEIPTS_FILE (a "token|id" line each): each
-- reader marks messages of their own conversation. Counts 200 answers (the
-- acknowledged receipts) and every other answer apart, which fails the bench.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "bench-wrk-counts.lua")(200)

local pairs_ = {}
for line in io.lines(os.getenv("RECEIPTS_FILE")) do
  local token, id = string.match(line, "([^|]+)|([^|]+)")
  if token then table.insert(pairs_, { token = token, id = id }) end
end
local n = 0

request = function()
  n = n + 1
  local p = pairs_[(n % #pairs_) + 1]
  return wrk.format("POST", "/api/v1/messages/" .. p.id .. "/read",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. p.token }, "{}")
end
