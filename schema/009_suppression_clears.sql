-- 009: when the administrator last cleared an address (manage.py suppressions --clear).
-- A report about mail sent before then is old news (a late or replayed report):
-- it must not undo the administrator's decision.  One row per address.
CREATE TABLE suppression_clears (
    address    text PRIMARY KEY,
    cleared_at timestamptz NOT NULL DEFAULT now()
);
