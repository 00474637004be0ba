-- Every journal write updates every index of calls. Two of them are the leading columns
-- of wider ones and serve no query the wider ones cannot: calls_started is the prefix of
-- calls_stats (started_at, id, …), calls_remote_number that of calls_remote
-- (remote_number, …).
DROP INDEX calls_started;
DROP INDEX calls_remote_number;
