-- POST /api/v1/title-checks with random unknown national ids (seeded; the synthetic people have
-- none). With BENCH_SPREAD=1 each request names a client address in X-Forwarded-For (the
-- server trusts 127.0.0.1 as its proxy), as public traffic from many networks would.
package.path = "./?.lua;" .. package.path
local common = require("wrk_common")
setup = common.setup
done = common.done
local spread

function init(args)
  common.init()
  spread = os.getenv("BENCH_SPREAD") == "1"
end

function request()
  local headers = {["Content-Type"] = "application/json", ["Accept"] = "application/json"}
  if spread then
    headers["X-Forwarded-For"] = string.format("10.%d.%d.%d", math.random(0, 255), math.random(0, 255), math.random(1, 254))
  end
  local body = string.format('{"national_id": "0010%08d", "birth_date": "1980-01-01"}', math.random(0, 99999999))
  return wrk.format("POST", "/api/v1/title-checks", headers, body)
end

function response(status, headers, body) common.response(status) end
