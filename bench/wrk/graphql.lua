-- wrk script for usergraph: builds one request per call from SCENARIO (an
-- environment variable), counts every answer that is not HTTP 200 or that
-- carries GraphQL `errors`, and prints one JSON line at the end.
local scenario = os.getenv("SCENARIO") or "health"
local token = os.getenv("TOKEN") or ""
local users = tonumber(os.getenv("USERS") or "1000")
local page_max = tonumber(os.getenv("PAGE_MAX") or "1")
local page_min = tonumber(os.getenv("PAGE_MIN") or "1")
local password = os.getenv("PASSWORD") or ""
local cursors = {}
for cursor in string.gmatch(os.getenv("CURSORS") or "", "[^,]+") do
  table.insert(cursors, cursor)
end

-- refresh: one refresh token per session, each used once; a thread takes
-- every other token (by its id's parity), enough for its connections.
local refresh_tokens = {}
for refresh in string.gmatch(os.getenv("REFRESH_TOKENS") or "", "[^,]+") do
  table.insert(refresh_tokens, refresh)
end
local pool = {}

local threads = {}
local counter = 0
local salt = 0
-- Globals, so the main state can read them from each thread in done().
errors = 0

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() + (thread_id or 0) * 7919)
  salt = math.random(1000, 9999)
  wrk.headers["Content-Type"] = "application/json"
  for index, refresh in ipairs(refresh_tokens) do
    if index % 2 == (thread_id or 1) % 2 then
      table.insert(pool, refresh)
    end
  end
  if token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
  if scenario == "health" then
    wrk.method = "GET"
    wrk.path = "/health"
  else
    wrk.method = "POST"
    wrk.path = "/graphql"
  end
end

local function graphql(query, variables)
  if variables then
    return '{"query":"' .. query .. '","variables":' .. variables .. '}'
  end
  return '{"query":"' .. query .. '"}'
end

function request()
  counter = counter + 1
  if scenario == "health" then
    return wrk.format(nil, "/health")
  elseif scenario == "me" then
    return wrk.format(nil, nil, nil, graphql("{ me { id username email } }"))
  elseif scenario == "user" then
    local name = "u" .. math.random(1, users)
    -- What changes travels in variables, as clients send it, so the
    -- document text is the same for every request.
    return wrk.format(nil, nil, nil, graphql('query($u: String!) { user(username: $u) { id username name } }', '{"u":"' .. name .. '"}'))
  elseif scenario == "users" then
    local page = math.random(page_min, page_max)
    return wrk.format(nil, nil, nil, graphql("query($p: Int) { users(page: $p, itemsPerPage: 100) { items { username tier { name } postCount } } }", '{"p":' .. page .. '}'))
  elseif scenario == "users10" then
    local page = math.random(page_min, page_max)
    return wrk.format(nil, nil, nil, graphql("query($p: Int) { users(page: $p, itemsPerPage: 10) { items { id name username email profileImageUrl tierId } } }", '{"p":' .. page .. '}'))
  elseif scenario == "users100" then
    local page = math.random(page_min, page_max)
    return wrk.format(nil, nil, nil, graphql("query($p: Int) { users(page: $p, itemsPerPage: 100) { items { id username name tier { name } postCount } } }", '{"p":' .. page .. '}'))
  elseif scenario == "refresh" then
    -- Each connection has one request in flight, so the pool never runs dry
    -- while it holds at least as many sessions as the thread's connections.
    local refresh = table.remove(pool) or "none"
    return wrk.format(nil, nil, nil, graphql('mutation { refreshToken(refreshToken: \\"' .. refresh .. '\\") { refreshToken } }'))
  elseif scenario == "update" then
    local name = "Renamed " .. (thread_id or 0) .. " " .. counter
    return wrk.format(nil, nil, nil, graphql('mutation { updateUser(username: \\"u0\\", input: { name: \\"' .. name .. '\\" }) { id name } }'))
  elseif scenario == "users_cursor" then
    local cursor = cursors[math.random(1, #cursors)]
    return wrk.format(nil, nil, nil, graphql('query($a: String) { users(first: 100, after: $a) { items { username tier { name } postCount } } }', '{"a":"' .. cursor .. '"}'))
  elseif scenario == "login" then
    local name = "u" .. math.random(1, users)
    return wrk.format(nil, nil, nil, graphql('mutation { login(usernameOrEmail: \\"' .. name .. '\\", password: \\"' .. password .. '\\") { accessToken } }'))
  elseif scenario == "register" then
    -- Unique per thread and call: r<thread>c<counter>s<salt>, at most 20.
    local name = "r" .. (thread_id or 0) .. "c" .. counter .. "s" .. salt
    return wrk.format(nil, nil, nil, graphql('mutation { register(input: { name: \\"Bench User\\", username: \\"' .. name .. '\\", email: \\"' .. name .. '@example.com\\", password: \\"' .. password .. '\\" }) { id } }'))
  end
end

function response(status, headers, body)
  if scenario == "refresh" then
    local refresh = string.match(body, '"refreshToken":"([^"]+)"')
    if refresh then
      table.insert(pool, refresh)
    end
  end
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    errors = errors + 1
    if errors <= 3 then
      io.stderr:write("error answer: " .. status .. " " .. string.sub(body, 1, 300) .. "\n")
    end
  end
end

function done(summary, latency, requests)
  local failed = 0
  for _, thread in ipairs(threads) do
    failed = failed + (thread:get("errors") or 0)
  end
  local socket = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    'RESULT {"requests":%d,"seconds":%.3f,"p50_us":%d,"p99_us":%d,"errors":%d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    failed + socket + summary.errors.status))
end
