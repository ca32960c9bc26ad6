-- bench/schema_synth.sql — a synthetic catalog for bench/schema.sh: :ntables tables of
-- 20 columns spread over 5 schemas, each referencing the previous table (a foreign-key
-- chain across schemas), every fifth with a comment. Created in batches that commit, so
-- one transaction never holds locks on thousands of new tables.
SET bench.ntables = :'ntables';
DO $$
DECLARE
  n int := current_setting('bench.ntables')::int;
  i int;
BEGIN
  FOR s IN 1..5 LOOP
    EXECUTE format('CREATE SCHEMA IF NOT EXISTS s%s', s);
  END LOOP;
  FOR i IN 1..n LOOP
    EXECUTE format(
      'CREATE TABLE s%s.t%s (
         id integer PRIMARY KEY,
         parent_id integer %s,
         name text NOT NULL,
         code character varying(40),
         amount numeric(12,2) DEFAULT 0,
         quantity integer,
         ratio double precision,
         active boolean DEFAULT true,
         created_at timestamp with time zone DEFAULT now(),
         updated_at timestamp without time zone,
         day date,
         big bigint,
         small smallint,
         payload jsonb,
         tags text[],
         note text,
         uid uuid,
         price numeric(10,2),
         flag character(1),
         total numeric(14,2) GENERATED ALWAYS AS (amount * 2) STORED)',
      1 + i % 5, i,
      CASE WHEN i > 1 THEN format('REFERENCES s%s.t%s (id)', 1 + (i - 1) % 5, i - 1) ELSE '' END);
    IF i % 5 = 0 THEN
      EXECUTE format('COMMENT ON TABLE s%s.t%s IS %L', 1 + i % 5, i, 'synthetic table ' || i);
    END IF;
    IF i % 200 = 0 THEN COMMIT; END IF;
  END LOOP;
END $$;
