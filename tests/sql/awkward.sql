-- tests/sql/awkward.sql — the catalog cases that break naive schema readers: quoted
-- mixed-case names, spaces, reserved words, composite keys, no primary key, several
-- schemas with the same table name, comments, a view, a materialized view, a
-- partitioned table with foreign keys declared only on its partitions, generated
-- columns, and a table whose name is an SQL injection attempt.
CREATE SCHEMA sales;
CREATE SCHEMA "Audit Log";

CREATE TABLE public.customers (
  customer_id integer PRIMARY KEY,
  email       character varying(120) NOT NULL,
  created_at  timestamp with time zone DEFAULT now()
);
COMMENT ON TABLE public.customers IS 'People who buy things';
COMMENT ON COLUMN public.customers.email IS 'Lower-cased on insert';

-- Same name in another schema: "customers" must resolve to public first.
CREATE TABLE sales.customers (id bigint PRIMARY KEY, region text);

CREATE TABLE sales."Order Items" (
  "OrderID"   integer NOT NULL,
  "LineNo"    smallint NOT NULL,
  "select"    text,
  quantity    integer NOT NULL CHECK (quantity > 0),
  unit_price  numeric(10,2) NOT NULL,
  line_total  numeric(12,2) GENERATED ALWAYS AS (quantity * unit_price) STORED,
  tags        text[],
  PRIMARY KEY ("OrderID", "LineNo")
);

CREATE TABLE sales."user" (
  "order"  integer PRIMARY KEY,
  "group"  text
);

-- Composite foreign key onto a composite primary key.
CREATE TABLE sales.shipments (
  shipment_id serial PRIMARY KEY,
  order_id    integer NOT NULL,
  line_no     smallint NOT NULL,
  customer_id integer REFERENCES public.customers (customer_id),
  FOREIGN KEY (order_id, line_no) REFERENCES sales."Order Items" ("OrderID", "LineNo")
);

-- No primary key at all.
CREATE TABLE "Audit Log"."Events" (
  at      timestamp without time zone NOT NULL,
  "Actor" text,
  detail  jsonb
);
COMMENT ON TABLE "Audit Log"."Events" IS 'Append-only; no key';

CREATE VIEW sales.big_lines AS
  SELECT "OrderID", "LineNo", line_total FROM sales."Order Items" WHERE line_total > 100;

CREATE MATERIALIZED VIEW sales.order_totals AS
  SELECT "OrderID", sum(line_total) AS total FROM sales."Order Items" GROUP BY "OrderID";

-- Partitioned table whose foreign keys exist only on the partitions (as in pagila).
CREATE TABLE public.events (
  event_id    bigint NOT NULL,
  customer_id integer NOT NULL,
  happened_at date NOT NULL,
  PRIMARY KEY (event_id, happened_at)
) PARTITION BY RANGE (happened_at);
CREATE TABLE public.events_2025 PARTITION OF public.events
  FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE public.events_2026 PARTITION OF public.events
  FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
ALTER TABLE public.events_2025 ADD CONSTRAINT events_2025_customer_fkey
  FOREIGN KEY (customer_id) REFERENCES public.customers (customer_id);
ALTER TABLE public.events_2026 ADD CONSTRAINT events_2026_customer_fkey
  FOREIGN KEY (customer_id) REFERENCES public.customers (customer_id);

-- Names that must only ever travel as parameters.
CREATE TABLE public.y (id integer PRIMARY KEY);
CREATE TABLE public."x'; DROP TABLE y; --" (id integer PRIMARY KEY,
  y_id integer REFERENCES public.y (id));

-- Rows and statistics: a large-ish integer key for the partitioned-read statistics.
INSERT INTO public.customers
  SELECT g, 'c' || g || '@example.com', '2025-01-01'::timestamptz + g * interval '1 hour'
    FROM generate_series(1, 2000) g;
INSERT INTO public.events
  SELECT g, 1 + g % 2000, '2025-06-01'::date + (g % 300) FROM generate_series(1, 3000) g;
ANALYZE;
