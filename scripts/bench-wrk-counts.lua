-- Shared by the wrk scripts of bench-core.sh: counts, per thread, the
-- answers with the expected status (the acknowledged requests: the only ones
-- the bench counts as throughput) and every other answer apart, which fails
-- the bench; prints both when wrk is done. A script loads it with
--   dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "bench-wrk-counts.lua")(201)
-- (each wrk thread runs the script in a Lua state of its own, so the counts
-- are that state's globals, which `done` reads with `thread:get`).
return function(expected)
  acked = 0
  refused = 0

  local threads = {}
  setup = function(thread)
    table.insert(threads, thread)
  end

  response = function(status, headers, body)
    if status == expected then acked = acked + 1 else refused = refused + 1 end
  end

  done = function(summary, latency, requests)
    local ok, other = 0, 0
    for _, t in ipairs(threads) do
      ok = ok + t:get("acked")
      other = other + t:get("refused")
    end
    local errors = summary.errors
    io.write(string.format("answers other than %d: %d\n", expected, other))
    io.write(string.format("socket errors: %d\n",
      errors.connect + errors.read + errors.write + errors.timeout))
    io.write(string.format("acknowledged (%d): %d\n", expected, ok))
    io.write(string.format("acknowledged/s: %.1f\n", ok / (summary.duration / 1e6)))
  end
end
