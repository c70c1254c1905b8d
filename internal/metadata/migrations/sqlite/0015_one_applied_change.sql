-- One applied layout change per table, whoever applies it (a person, the
-- policy, two processes at once): a second apply's record fails, and the
-- service undoes its change.
CREATE UNIQUE INDEX optimizations_one_applied ON optimizations (table_name) WHERE status = 'applied';
