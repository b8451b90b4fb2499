-- wrk script: random mentors and realistic parameters for one endpoint.
-- Configured by environment variables: BENCH_TARGET (healthz, summary, series, breakdown,
-- history, records, summary-rest (the summary with rest days), gql-summary, gql-series,
-- gql-breakdown, gql-history, gql-dashboard, gql-dashboard-records (the dashboard with the
-- records), and the GraphQL targets with "-inline": the arguments written into the document,
-- and gql-summary-id, gql-dashboard-id: their document named by BENCH_DOCUMENT_ID, by GET)
-- and BENCH_MENTORS.
local target = os.getenv("BENCH_TARGET") or "summary"
local mentors = tonumber(os.getenv("BENCH_MENTORS") or "100")
local base = "/api/v1/personal-stats/"

local windows = { "", "?period=last_7_days", "?period=last_90_days", "?period=year_to_date",
                  "?period=month_to_date", "?period=last_365_days", "?period=all_time" }
local gql_periods = { "LAST_30_DAYS", "LAST_7_DAYS", "LAST_90_DAYS", "YEAR_TO_DATE",
                      "MONTH_TO_DATE", "LAST_365_DAYS", "ALL_TIME" }
local series = { "", "?months=12", "?months=24" }
local pages = { "", "?limit=5" }

local summary_fields = "mentorName period startDate endDate totalActivities completedActivities " ..
  "cancelledActivities completionRate avgSessionDurationMinutes totalHoursLogged " ..
  "mostCommonActivityType mostActiveWeekday peerRankPercentile streakDays longestStreakDays activeDays " ..
  "weeklyStreakWeeks"

local rest_days = { "saturday,sunday", "sunday", "friday,saturday,sunday" }
local records_fields = "asOf firstActivityDate totalActivities completedActivities totalHoursLogged " ..
  "bestDay { date completedActivities } bestWeek { weekStart completedActivities } " ..
  "bestMonth { year month completedActivities } mostHoursMonth { year month totalHours } " ..
  "longestStreak { days startDate endDate } longestWeeklyStreak { weeks startWeek endWeek } " ..
  "milestones { completedActivities date activityId } nextMilestone { completedActivities remaining }"

local function pick(list) return list[math.random(#list)] end
local function mentor() return string.format("mentor_%06d", math.random(0, mentors - 1)) end

-- Queries with variables, as a frontend sends them: the document repeats, the values vary.
local function graphql(query, variables)
  local body = '{"query": "' .. query:gsub('"', '\\"') .. '", "variables": ' .. variables .. '}'
  return wrk.format("POST", "/graphql", { ["Content-Type"] = "application/json" }, body)
end

-- The same document with its arguments written inline (`$id` -> "mentor_000123"), as a
-- frontend that builds query strings sends it: every document text is new.
local function inline(query, id, period)
  query = query:gsub("query %(%$id: ID!, %$period: StatsPeriod%) ", "query "):gsub("query %(%$id: ID!%) ", "query ")
  query = query:gsub("%$id", '"' .. id .. '"')
  if period then query = query:gsub("%$period", period) end
  local body = '{"query": "' .. query:gsub('"', '\\"') .. '"}'
  return wrk.format("POST", "/graphql", { ["Content-Type"] = "application/json" }, body)
end

local function vars(id, period)
  if period then return string.format('{"id": "%s", "period": "%s"}', id, period) end
  return string.format('{"id": "%s"}', id)
end

-- A document named by its id, by GET (as a CDN would see it): `variables` in the query string.
local function by_id(id, period)
  local variables = vars(id, period):gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end)
  return wrk.format("GET", "/graphql?documentId=" .. os.getenv("BENCH_DOCUMENT_ID") .. "&variables=" .. variables)
end

init = function(args) math.randomseed(os.time() + math.floor(os.clock() * 1e6)) end

-- The GraphQL documents, with whether they take a period. The summary's and the dashboard's
-- are read from bench/documents (one line each), which the harness also adds as persisted
-- documents: the "-id" targets send their id (BENCH_DOCUMENT_ID) by GET.
local function read(name)
  local path = (os.getenv("BENCH_DOCUMENTS") or "bench/documents") .. "/" .. name .. ".graphql"
  local file = assert(io.open(path), path .. " not found: set BENCH_DOCUMENTS to bench/documents")
  local text = file:read("*a")
  file:close()
  return text
end
local documents = {
  ["gql-summary"] = { read("gql-summary"), true },
  ["gql-series"] = { 'query ($id: ID!) { monthlySeries(mentorId: $id, months: 12) { data { year month monthLabel totalActivities completedActivities totalHours } pagination { total } } }', false },
  ["gql-breakdown"] = { 'query ($id: ID!, $period: StatsPeriod) { activityBreakdown(mentorId: $id, period: $period) { data { activityTypeId activityTypeName count percentage avgDurationMinutes totalHours } pagination { total } } }', true },
  ["gql-history"] = { 'query ($id: ID!) { contributionHistory(mentorId: $id) { data { year totalActivities totalHours monthlyBreakdown { month count } peakMonth zeroActivityMonths } } }', false },
  ["gql-dashboard"] = { read("gql-dashboard"), true },
}
documents["gql-dashboard-records"] = { documents["gql-dashboard"][1]:gsub("} } }$", "} personalRecords { " ..
  records_fields .. " } } }"), true }

request = function()
  if target == "healthz" then return wrk.format("GET", "/healthz") end
  if target == "summary" then return wrk.format("GET", base .. mentor() .. pick(windows)) end
  if target == "series" then return wrk.format("GET", base .. mentor() .. "/monthly-series" .. pick(series)) end
  if target == "breakdown" then return wrk.format("GET", base .. mentor() .. "/activity-breakdown" .. pick(windows)) end
  if target == "history" then return wrk.format("GET", base .. mentor() .. "/contribution-history" .. pick(pages)) end
  if target == "records" then return wrk.format("GET", base .. mentor() .. "/records") end
  if target == "summary-rest" then
    local window = pick(windows)
    local joint = window == "" and "?" or "&"
    return wrk.format("GET", base .. mentor() .. window .. joint .. "rest_days=" .. pick(rest_days))
  end
  local name, written_inline = target:gsub("%-inline$", "")
  local named, by_document_id = name:gsub("%-id$", "")
  if by_document_id > 0 then
    return by_id(mentor(), documents[named][2] and pick(gql_periods) or nil)
  end
  local document = documents[name]
  local id, period = mentor(), nil
  if document[2] then period = pick(gql_periods) end
  if written_inline > 0 then return inline(document[1], id, period) end
  return graphql(document[1], vars(id, period))
end

-- Print the figures the harness parses, after wrk's own report.
done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  io.write(string.format("BENCH requests=%d errors=%d timeouts=%d non2xx=%d rps=%.1f p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write,
    summary.errors.timeout, summary.errors.status, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
