-- Before the history partition is re-made: no insert may land in it between
-- the check that it is empty and its drop.
LOCK TABLE {partition} IN ACCESS EXCLUSIVE MODE;
