"""Redis layout of the home feeds (one place for key names and member encoding).

Keys (all in the Redis db of `daira.lib.redis.get_redis()`):

- `feed:home:<user_id>`: sorted set, the user's home timeline. Score = the entry's
  snowflake id (the post id, or the repost id for a repost, so a repost shows when it
  was shared; the merge script relies on a post's score being its id).
  Member = `"<post_id>:<author_id>"` for a post, or
  `"<post_id>:<author_id>:<reposter_id>"` for a repost: the author and reposter are in
  the member so unfollow / block / mute can drop entries without touching Postgres.
  A member `"_"` with score 0 marks a rebuilt feed that had nothing in it (an existing
  key means "warm"; a missing one means "cold: rebuild"). Trimmed to MAX_ITEMS; expires
  after FEED_ACTIVE_DAYS without a read.
- `feed:author:<user_id>`: sorted set, the author's recent posts and reposts (same
  encoding), kept for every author (cheap, trimmed to AUTHOR_ITEMS): readers merge in
  the sets of the big accounts they follow (fan-in), and a lost set is refilled from
  Postgres on read.
- `feed:rebuild:<user_id>`: the rebuild lock (SET NX EX); while it is held readers use
  the pull query.
- `feed:big:<user_id>`: cached ids of the big accounts (fan-in) a user follows.
- `feed:ranked:<user_id>`: a cached ranked ordering (ranking=ranked), short-lived.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from daira.lib.redis import registered_script

MAX_ITEMS = 800
AUTHOR_ITEMS = 200
EMPTY_MARKER = "_"
REBUILD_LOCK_SECONDS = 120
BIG_FOLLOWING_TTL = 300
FANOUT_BATCH = 1_000


def home_key(user_id: int) -> str:
    return f"feed:home:{user_id}"


AUTHOR_KEY_PREFIX = "feed:author:"


def author_key(user_id: int) -> str:
    return f"{AUTHOR_KEY_PREFIX}{user_id}"


def rebuild_lock_key(user_id: int) -> str:
    return f"feed:rebuild:{user_id}"


def big_following_key(user_id: int) -> str:
    return f"feed:big:{user_id}"


def ranked_key(user_id: int) -> str:
    return f"feed:ranked:{user_id}"


def scores_below(upper: int | None) -> str:
    """The scripts' upper bound: scores strictly below `upper`, or all of them (None)."""
    return f"({upper}" if upper is not None else "+inf"


def feed_ttl_seconds() -> int:
    return max(1, int(settings.FEED_ACTIVE_DAYS)) * 86_400


@dataclass(frozen=True)
class Entry:
    """One timeline entry: a post, or a post shared by `reposter_id`."""

    score: int
    post_id: int
    author_id: int
    reposter_id: int | None = None

    @property
    def member(self) -> str:
        if self.reposter_id is None:
            return f"{self.post_id}:{self.author_id}"
        return f"{self.post_id}:{self.author_id}:{self.reposter_id}"

    def involves(self, user_id: int) -> bool:
        return self.author_id == user_id or self.reposter_id == user_id


def parse_member(member: bytes | str, score: float) -> Entry | None:
    """The Entry for a stored member, or None for the empty marker / garbage."""
    text = member.decode() if isinstance(member, bytes) else member
    parts = text.split(":")
    try:
        if len(parts) == 2:
            return Entry(score=int(score), post_id=int(parts[0]), author_id=int(parts[1]))
        if len(parts) == 3:
            return Entry(score=int(score), post_id=int(parts[0]), author_id=int(parts[1]), reposter_id=int(parts[2]))
    except ValueError:
        return None
    return None


# Add one member to every listed feed that exists (a missing feed is cold and will be
# rebuilt from Postgres with this post in it; creating it here would make a one-post
# feed look warm), then trim it. KEYS: feeds; ARGV: score, member, max items.
_PUSH_IF_EXISTS = """
local added = 0
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    redis.call('ZADD', key, ARGV[1], ARGV[2])
    redis.call('ZREMRANGEBYRANK', key, 0, -tonumber(ARGV[3]) - 1)
    added = added + 1
  end
end
return added
"""

def push_if_exists_script():
    """The registered `_PUSH_IF_EXISTS` script."""
    return registered_script(_PUSH_IF_EXISTS)


# The newest entries of a home feed merged with the sets of the big accounts it follows,
# done inside Redis so a page read is one round trip returning ~one page of members instead
# of every set's window (a viewer following six big accounts used to receive seven windows
# and merge ~90 entries in Python for a 21-entry page).
# merge(keys, high, batch): keys[1] the home feed, keys[2..] author sets of the big accounts
# followed; high the upper bound ("(<score>" or "+inf"). Returns {exhausted (1 when no set
# had a full window), {1-based indexes into the author keys that do not exist (lost with
# Redis: the caller refills them)}, member1, score1, member2, ...} newest first (score, then
# post id, descending), a member once, at most `batch` of them.
# Scores travel as strings (a post's id, or a repost's score as Redis formats it), never as
# Lua numbers (an integer reply would truncate them).
# The windows are read without WITHSCORES: a post's score is its post id, the member's
# prefix, so only a repost's score is looked up (ZSCORE). Redis 6.2 formats every double it
# replies with through snprintf("%.17g"): about half of this script's time for seven sets.
_MERGE_FUNCTION = """
local function merge(keys, high, batch)
  local lists, sources, pos, missing = {}, {}, {}, {}
  -- per window, its head: score (a double, for ordering), score as text (for the reply),
  -- post id as text (exact, to break ties between doubles)
  local heads, texts, head_ids = {}, {}, {}
  local exhausted = 1
  -- a post's score is its post id ("<post>:<author>"); a repost's is looked up
  -- ("<post>:<author>:<reposter>")
  local function load_head(n)
    local member = lists[n][pos[n]]
    if member == nil then
      heads[n] = nil
      return
    end
    local post_id, rest = string.match(member, '^(%d+):%d+(.*)$')
    local text = post_id
    if post_id == nil or rest ~= '' then text = redis.call('ZSCORE', sources[n], member) end
    texts[n], heads[n], head_ids[n] = text, tonumber(text), post_id or ''
  end
  for i, key in ipairs(keys) do
    if i > 1 and redis.call('EXISTS', key) == 0 then
      missing[#missing + 1] = i - 1
    else
      local got = redis.call('ZREVRANGEBYSCORE', key, high, '(0', 'LIMIT', 0, batch)
      if #got >= batch then exhausted = 0 end
      if #got > 0 then
        local n = #lists + 1
        lists[n], sources[n], pos[n] = got, key, 1
        load_head(n)
      end
    end
  end
  -- digit strings without leading zeros: the longer is bigger, then the lexically bigger
  local function id_greater(x, y)
    if #x ~= #y then return #x > #y end
    return x > y
  end
  -- each window is newest first already: a k-way merge takes the newest head each step;
  -- on equal scores (ids above 2^53 round to the same double) the bigger post id first
  local out, seen, taken = {exhausted, missing}, {}, 0
  while true do
    local best = nil
    for l = 1, #lists do
      local head = heads[l]
      if head ~= nil then
        if best == nil or head > heads[best] or (head == heads[best] and id_greater(head_ids[l], head_ids[best])) then
          best = l
        end
      end
    end
    if best == nil then break end
    local member, text = lists[best][pos[best]], texts[best]
    pos[best] = pos[best] + 1
    load_head(best)
    if not seen[member] then
      if taken == batch then
        out[1] = 0  -- more distinct entries than one batch
        break
      end
      seen[member] = true
      out[#out + 1] = member
      out[#out + 1] = text
      taken = taken + 1
    end
  end
  return out
end
"""

# KEYS[1]: the home feed; KEYS[2..]: author sets of the big accounts followed.
# ARGV: upper bound, batch size. Returns merge()'s reply.
_MERGE_NEWEST = _MERGE_FUNCTION + """
return merge(KEYS, ARGV[1], tonumber(ARGV[2]))
"""

# A home page's first read in one round trip: the feed's state, its TTL refreshed, and the
# first merge with the big accounts named by the cached list (`feed:big:<id>`, ids joined by
# commas). KEYS: the home feed, its rebuild lock, the cached big-account list.
# ARGV: feed TTL in seconds, upper bound, batch size, the author-set key prefix.
# Returns {"cold"} (no feed), {"locked"} (being rebuilt), {"no-big", size} (the list is not
# cached: the caller computes it, then merges), or {"ok", size, list, <merge()'s reply>...}.
# The author keys are built here from the cached list, so they are not declared in KEYS:
# fine on one Redis server, which is what DAIRA runs (a Redis Cluster would need the user's
# keys and the authors' sets in one hash slot, which they are not).
_HOME_FIRST_READ = _MERGE_FUNCTION + """
local home, lock, big_list = KEYS[1], KEYS[2], KEYS[3]
if redis.call('EXISTS', home) == 0 then return {'cold'} end
if redis.call('EXISTS', lock) == 1 then return {'locked'} end
redis.call('EXPIRE', home, ARGV[1])
local size = redis.call('ZCARD', home)
local big = redis.call('GET', big_list)
if not big then return {'no-big', size} end
local keys = {home}
for id in string.gmatch(big, '%d+') do keys[#keys + 1] = ARGV[4] .. id end
local reply = {'ok', size, big}
for _, value in ipairs(merge(keys, ARGV[2], tonumber(ARGV[3]))) do reply[#reply + 1] = value end
return reply
"""


def merge_newest_script():
    """The registered `_MERGE_NEWEST` script."""
    return registered_script(_MERGE_NEWEST)


def home_first_read_script():
    """The registered `_HOME_FIRST_READ` script."""
    return registered_script(_HOME_FIRST_READ)
