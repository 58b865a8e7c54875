-- GET /healthz: the baseline of bench/lookups.py.
package.path = "./?.lua;" .. package.path
local common = require("wrk_common")
setup = common.setup
done = common.done
function init(args) common.init() end
function response(status, headers, body) common.response(status) end
