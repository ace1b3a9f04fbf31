-- wrk script: each request asks for a random project's simple page from a list of names, with the
-- headers pip sends (Accept for PEP 691 JSON or HTML, Accept-Encoding: gzip).
--   PAGES_FILE=names.txt PAGES_ACCEPT=application/vnd.pypi.simple.v1+json wrk -s random-pages.lua URL
local names = {}
local accept = os.getenv("PAGES_ACCEPT") or "text/html"
local prefix = os.getenv("PAGES_PREFIX") or "/simple/"
local suffix = os.getenv("PAGES_SUFFIX") or "/"
for line in io.lines(os.getenv("PAGES_FILE")) do names[#names + 1] = line end

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("seed", os.time() * 100 + threads)
end

function init(args)
  math.randomseed(seed)
end

function request()
  local name = names[math.random(1, #names)]
  return wrk.format("GET", prefix .. name .. suffix, { ["Accept"] = accept, ["Accept-Encoding"] = "gzip, deflate" })
end
