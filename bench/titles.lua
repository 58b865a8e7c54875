-- GET /api/v1/subjects/person/{id}/titles with random existing person ids (seeded), as a
-- portal client. BENCH_TOKEN, BENCH_FIRST_ID, BENCH_LAST_ID.
package.path = "./?.lua;" .. package.path
local common = require("wrk_common")
setup = common.setup
done = common.done
local first, last, headers

function init(args)
  common.init()
  first = tonumber(os.getenv("BENCH_FIRST_ID"))
  last = tonumber(os.getenv("BENCH_LAST_ID"))
  headers = {["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN"), ["Accept"] = "application/json"}
end

function request()
  local id = math.random(first, last)
  return wrk.format("GET", "/api/v1/subjects/person/" .. id .. "/titles", headers)
end

function response(status, headers, body) common.response(status) end
