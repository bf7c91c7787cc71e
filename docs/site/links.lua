-- links.lua - pandoc filter for the docs site (scripts/build-site.sh).
--
-- The docs link to each other as NAME.md, and to repository files as
-- ../common/mpsc.h, which is right on GitHub and in an editor.  In the site
-- a page is build/site/NAME.html, so:
--   NAME.md[#anchor]      -> NAME.html[#anchor]   (README.md -> index.html)
--   ../path (a repo file) -> ../../path           (the file in the checkout)
--   img/...               -> unchanged            (the images are copied in)
-- and every image becomes a link to itself, to see it at full size.
-- Web addresses and #anchors within the page are left alone.
local docs_dir = "docs/"

local function exists(path)
  local f = io.open(path, "r")
  if f then f:close() return true end
  return false
end

local function rewrite(target)
  if target:match("^%a[%w+.-]*:") or target:sub(1, 1) == "#" then
    return target
  end
  local path, anchor = target:match("^([^#]*)(#?.*)$")
  if path:match("^[^/]+%.md$") and exists(docs_dir .. path) then
    local page = path == "README.md" and "index" or path:gsub("%.md$", "")
    return page .. ".html" .. anchor
  end
  if path:match("^img/") then
    return target
  end
  -- Anything else is a repository file, relative to docs/; the site lives
  -- two folders down from the repository root.
  if path:sub(1, 3) == "../" then
    return "../../" .. path:sub(4) .. anchor
  end
  return "../../docs/" .. path .. anchor
end

function Link(el)
  el.target = rewrite(el.target)
  return el
end

-- A picture is drawn wider than the text; a click opens it at full size.
function Image(el)
  el.src = rewrite(el.src)
  return pandoc.Link({el}, el.src, "open the picture at full size")
end
