-- Writers for bench/writes.py. Thread i is writer i: line i of the file BENCH_WRITERS holds
-- "token<TAB>village codes (comma-separated)<TAB>person ids living in the commune (comma-separated)".
-- BENCH_KIND: person (POST /api/v1/people), assessment (POST /api/v1/assessments) or mixed
-- (alternating). BENCH_BASE, BENCH_THREADS: writer k's n-th write uses the unique index
-- BASE + k + n * THREADS (national id, assessment UUID), so no two writes collide, in one run
-- or across runs (bench/writes.py keeps BASE in the database).
package.path = "./?.lua;" .. package.path
local common = require("wrk_common")
setup = common.setup
done = common.done

local FAMILY = {"Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ"}
local MIDDLE = {"Văn", "Thị", "Hữu", "Đức", "Minh", "Thu", "Ngọc", "Quang", "Thanh", "Hồng"}
local GIVEN = {"An", "Bình", "Cường", "Dung", "Giang", "Hà", "Hải", "Hạnh", "Hoa", "Hùng", "Lan", "Linh"}
local kind, base, nthreads, count, token, villages, subjects, year

local function split(text)
  local list = {}
  for item in string.gmatch(text, "[^,]+") do table.insert(list, item) end
  return list
end

function init(args)
  common.init()
  kind = os.getenv("BENCH_KIND") or "mixed"
  base = tonumber(os.getenv("BENCH_BASE"))
  nthreads = tonumber(os.getenv("BENCH_THREADS"))
  year = os.getenv("BENCH_YEAR")
  local lines = common.lines(os.getenv("BENCH_WRITERS"))
  local fields = {}
  for field in string.gmatch(lines[thread_id], "[^\t]+") do table.insert(fields, field) end
  token, villages, subjects = fields[1], split(fields[2]), split(fields[3])
  count = 0
end

local function pick(list) return list[math.random(1, #list)] end

local function person(index)
  local body = string.format(
    '{"full_name": "%s %s %s", "birth_date": "%d-%02d-%02d", "sex": "%s", "national_id": "09%010d", ' ..
    '"unit_code": "%s", "resident_since": "%s-01-15"}',
    pick(FAMILY), pick(MIDDLE), pick(GIVEN), math.random(1950, 2005), math.random(1, 12), math.random(1, 28),
    (math.random() < 0.5) and "male" or "female", index, pick(villages), year)
  return "/api/v1/people", body
end

local function assessment(index)
  local answers = {}
  for _, id in ipairs({"c1_1", "c1_2", "c1_3", "c1_4", "c2_1", "c2_2", "c2_3", "c2_4", "c3_1", "c3_2"}) do
    table.insert(answers, string.format('"%s": %d', id, math.random(5, 10)))
  end
  local body = string.format(
    '{"id": "00000000-0000-4000-a000-%012d", "title": "citizen", "subject_id": %s, "period": %s, ' ..
    '"subject_group": "commune_resident", "submit": true, "answers": {%s}}',
    index, pick(subjects), year, table.concat(answers, ", "))
  return "/api/v1/assessments", body
end

function request()
  local index = base + (thread_id - 1) + count * nthreads
  local path, body
  if kind == "person" or (kind == "mixed" and count % 2 == 0) then
    path, body = person(index)
  else
    path, body = assessment(index)
  end
  count = count + 1
  local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json",
                   ["Accept"] = "application/json"}
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body) common.response(status) end
