-- bench/catalog_independent.sql — the anchor for sparkgen's cold snapshot: a catalog
-- read written independently of sparkgen's (src/pg.c), the way a data engineer would,
-- in one round trip: one row per column of every readable table, view and foreign
-- table, with the table's kind, row estimate and comment, the column's type as
-- PostgreSQL prints it, nullability, default, generated flag and comment, and its place
-- in the primary key. bench/catalog.sh runs it with psql, unaligned, to /dev/null, with
-- jit off like sparkgen's session, so the anchor is at its best.
SELECT n.nspname, c.relname, c.relkind, nullif(c.reltuples, -1)::bigint, tc.description,
       a.attname, a.attnum, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid), a.attgenerated <> '', cc.description,
       array_position(i.indkey::int2[], a.attnum)
  FROM pg_namespace n
  JOIN pg_class c ON c.relnamespace = n.oid
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
  LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
  LEFT JOIN pg_description tc ON tc.classoid = 'pg_class'::regclass AND tc.objoid = c.oid AND tc.objsubid = 0
  LEFT JOIN pg_description cc ON cc.classoid = 'pg_class'::regclass AND cc.objoid = c.oid AND cc.objsubid = a.attnum
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
   AND n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'
   AND has_table_privilege(c.oid, 'SELECT')
 ORDER BY n.nspname, c.relname, a.attnum;
