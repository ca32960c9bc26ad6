-- examples/shop/schema.sql — the example shop database: five tables and deterministic
-- sample data, used by the demo, the built-in transformation types, the eval suite and
-- the real-Spark tests. Load into an empty database:
--     psql -v ON_ERROR_STOP=1 -d shop -f examples/shop/schema.sql
-- The data is generated in SQL with md5-based pseudo-randomness (never random()), so
-- every load gives byte-identical rows and reference queries give the same numbers
-- forever. Orders run from 2025-01-01 to 2026-11-20.
-- examples/shop/schema.json is the snapshot of exactly this schema; keep them in step.

SET client_min_messages = warning;
-- The generated row counts look large to the planner; compiling them (JIT) would cost
-- far more than running them.
SET jit = off;

BEGIN;

DROP TABLE IF EXISTS support_tickets, order_items, orders, products, customers CASCADE;

-- A uniform pseudo-random number in [0, 1) from a key: stable across PostgreSQL versions
-- and machines. Lives in pg_temp so it does not become part of the shop schema.
CREATE FUNCTION pg_temp.rnd(key text) RETURNS double precision
  LANGUAGE sql IMMUTABLE
  AS $$ SELECT ('x' || substr(md5(key), 1, 8))::bit(32)::bigint / 4294967296.0 $$;

CREATE TABLE customers (
  customer_id integer PRIMARY KEY,
  name        character varying(100) NOT NULL,
  email       character varying(255) NOT NULL UNIQUE,
  date_joined date NOT NULL
);
COMMENT ON TABLE customers IS 'People who registered with the shop; some never ordered.';
COMMENT ON COLUMN customers.date_joined IS 'Registration date (UTC).';

CREATE TABLE products (
  product_id integer PRIMARY KEY,
  category   character varying(20) NOT NULL
             CHECK (category IN ('Electronics', 'Appliances', 'Fitness')),
  name       character varying(100) NOT NULL,
  price      numeric(10,2) NOT NULL CHECK (price > 0)
);
COMMENT ON TABLE products IS 'Catalogue of products sold by the shop.';
COMMENT ON COLUMN products.category IS 'One of Electronics, Appliances, Fitness.';
COMMENT ON COLUMN products.price IS 'Current list price in EUR; order lines keep the price actually charged.';

CREATE TABLE orders (
  order_id     integer PRIMARY KEY,
  customer_id  integer NOT NULL REFERENCES customers (customer_id),
  order_date   timestamp without time zone NOT NULL,
  total_amount numeric(10,2) NOT NULL CHECK (total_amount >= 0)
);
COMMENT ON TABLE orders IS 'One row per order (header); its lines are in order_items.';
COMMENT ON COLUMN orders.order_date IS 'When the order was placed (UTC).';
COMMENT ON COLUMN orders.total_amount IS 'Sum of quantity * unit_price over the order''s items, in EUR.';

CREATE TABLE order_items (
  order_id   integer NOT NULL REFERENCES orders (order_id),
  product_id integer NOT NULL REFERENCES products (product_id),
  quantity   integer NOT NULL CHECK (quantity > 0),
  unit_price numeric(10,2) NOT NULL CHECK (unit_price > 0),
  PRIMARY KEY (order_id, product_id)
);
COMMENT ON TABLE order_items IS 'Order lines: several per order, so joining orders to it multiplies order rows.';
COMMENT ON COLUMN order_items.unit_price IS 'Price charged per unit, after any discount, in EUR.';

CREATE TABLE support_tickets (
  ticket_id   integer PRIMARY KEY,
  customer_id integer NOT NULL REFERENCES customers (customer_id),
  created_at  timestamp without time zone NOT NULL,
  resolved_at timestamp without time zone,
  status      character varying(20) NOT NULL
              CHECK (status IN ('Open', 'In Progress', 'Resolved')),
  description text NOT NULL,
  CHECK ((status = 'Resolved') = (resolved_at IS NOT NULL)),
  CHECK (resolved_at > created_at)
);
COMMENT ON TABLE support_tickets IS 'Customer support tickets.';
COMMENT ON COLUMN support_tickets.resolved_at IS 'Set only when status is Resolved (UTC).';

-- 200 customers: 150 joined 2024-01-01 .. 2025-06-30, 50 joined 2025-07-01 .. 2026-10-31.
INSERT INTO customers (customer_id, name, email, date_joined)
SELECT i,
       f.first || ' ' || l.last,
       lower(f.first || '.' || l.last || i) || '@example.com',
       CASE WHEN i <= 150
            THEN date '2024-01-01' + floor(pg_temp.rnd('joined' || i) * 547)::int
            ELSE date '2025-07-01' + floor(pg_temp.rnd('joined' || i) * 488)::int
       END
FROM generate_series(1, 200) AS i
CROSS JOIN LATERAL (SELECT (ARRAY['Anna','Ben','Chloe','David','Emma','Felix','Grace','Hugo',
        'Ines','Jonas','Klara','Leo','Maria','Noah','Olivia','Paul','Quinn','Rosa','Sam',
        'Tara'])[1 + (i * 7) % 20] AS first) AS f
CROSS JOIN LATERAL (SELECT (ARRAY['Schmidt','Martin','Rossi','Garcia','Novak','Jensen',
        'Dubois','Silva','Kowalski','Berg','Costa','Meyer','Larsen','Moreau','Fischer',
        'Santos','Horvat','Weber','Nilsson','Romano','Keller','Lopez','Wagner'])[1 + (i * 11) % 23] AS last) AS l;

INSERT INTO products (product_id, category, name, price) VALUES
  ( 1, 'Electronics', 'Wireless Earbuds',            79.99),
  ( 2, 'Electronics', 'Bluetooth Speaker',           49.90),
  ( 3, 'Electronics', '27" 4K Monitor',             329.00),
  ( 4, 'Electronics', 'Mechanical Keyboard',         89.50),
  ( 5, 'Electronics', 'Wireless Mouse',              24.99),
  ( 6, 'Electronics', 'USB-C Hub',                   39.00),
  ( 7, 'Electronics', 'Noise-Cancelling Headphones',249.00),
  ( 8, 'Electronics', 'Smartwatch',                 199.99),
  ( 9, 'Electronics', 'E-Reader',                   129.00),
  (10, 'Electronics', 'Portable SSD 1TB',            99.90),
  (11, 'Appliances',  'Espresso Machine',           399.00),
  (12, 'Appliances',  'Air Fryer',                  119.99),
  (13, 'Appliances',  'Robot Vacuum',               299.00),
  (14, 'Appliances',  'Blender',                     69.90),
  (15, 'Appliances',  'Electric Kettle',             34.99),
  (16, 'Appliances',  'Toaster',                     29.95),
  (17, 'Appliances',  'Microwave Oven',             149.00),
  (18, 'Appliances',  'Dehumidifier',               189.00),
  (19, 'Appliances',  'Stand Mixer',                349.00),
  (20, 'Appliances',  'Water Filter Jug',            22.50),
  (21, 'Fitness',     'Yoga Mat',                    25.00),
  (22, 'Fitness',     'Adjustable Dumbbells',       219.00),
  (23, 'Fitness',     'Resistance Bands Set',        19.99),
  (24, 'Fitness',     'Foam Roller',                 17.50),
  (25, 'Fitness',     'Kettlebell 12kg',             45.00),
  (26, 'Fitness',     'Jump Rope',                    9.99),
  (27, 'Fitness',     'Fitness Tracker',             59.99),
  (28, 'Fitness',     'Exercise Bike',              449.00),
  (29, 'Fitness',     'Pull-up Bar',                 34.90),
  (30, 'Fitness',     'Running Hydration Vest',      64.00);

-- 2500 orders, order_id increasing with the day: order i falls on day
-- floor((i-1) * 689 / 2500) after 2025-01-01 (the last on 2026-11-20), between 07:00
-- and 23:00. Each goes to a pseudo-randomly chosen customer who had already joined;
-- customers whose id is a multiple of 11 never order.
CREATE TEMP TABLE tmp_orders AS
SELECT i AS order_id,
       timestamp '2025-01-01 07:00' + ((i - 1) * 689 / 2500) * interval '1 day'
         + floor(pg_temp.rnd('time' || i) * 57600) * interval '1 second' AS order_date
FROM generate_series(1, 2500) AS i;

CREATE TEMP TABLE tmp_order_customer AS
SELECT o.order_id,
       (SELECT c.customer_id
          FROM customers AS c
         WHERE c.date_joined <= o.order_date::date AND c.customer_id % 11 <> 0
         ORDER BY md5(o.order_id || ':' || c.customer_id)
         LIMIT 1) AS customer_id
FROM tmp_orders AS o;

-- 1 to 4 distinct products per order (stride 7 over 30 products never repeats within
-- four steps); quantity mostly 1, sometimes 2-3, rarely 5; about one line in six is
-- discounted by 10, 15 or 20 percent off the list price.
CREATE TEMP TABLE tmp_items AS
SELECT o.order_id,
       1 + (floor(pg_temp.rnd('first' || o.order_id) * 30)::int + 7 * k) % 30 AS product_id,
       CASE WHEN q < 0.60 THEN 1 WHEN q < 0.85 THEN 2 WHEN q < 0.97 THEN 3 ELSE 5 END AS quantity,
       CASE WHEN d < 0.08 THEN 0.10 WHEN d < 0.13 THEN 0.15 WHEN d < 0.17 THEN 0.20 ELSE 0 END AS discount
FROM tmp_orders AS o
CROSS JOIN LATERAL generate_series(0, floor(pg_temp.rnd('lines' || o.order_id) * 4)::int) AS k
CROSS JOIN LATERAL (SELECT pg_temp.rnd('qty' || o.order_id || ':' || k) AS q,
                           pg_temp.rnd('disc' || o.order_id || ':' || k) AS d) AS r;

INSERT INTO orders (order_id, customer_id, order_date, total_amount)
SELECT o.order_id, oc.customer_id, o.order_date, 0
FROM tmp_orders AS o
JOIN tmp_order_customer AS oc USING (order_id)
ORDER BY o.order_id;

INSERT INTO order_items (order_id, product_id, quantity, unit_price)
SELECT t.order_id, t.product_id, t.quantity, round(p.price * (1 - t.discount), 2)
FROM tmp_items AS t
JOIN products AS p USING (product_id)
ORDER BY t.order_id, t.product_id;

-- The header total is exactly the sum of its lines.
UPDATE orders AS o
   SET total_amount = s.total
  FROM (SELECT order_id, sum(quantity * unit_price) AS total
          FROM order_items GROUP BY order_id) AS s
 WHERE s.order_id = o.order_id;

-- 300 tickets from customers who had joined, created 2025-01-15 .. 2026-11-20. Old
-- tickets are mostly Resolved; recent ones are more often Open or In Progress. A ticket
-- counts as Resolved only if its resolution time (1 hour .. ~10 days) falls before the
-- data's "now" (2026-11-21); otherwise it is still In Progress.
INSERT INTO support_tickets (ticket_id, customer_id, created_at, resolved_at, status, description)
SELECT t.ticket_id, t.customer_id, t.created_at,
       CASE WHEN t.status = 'Resolved' THEN t.created_at + t.resolution END,
       t.status, t.description
FROM (
  SELECT s.ticket_id, s.customer_id, s.created_at, s.resolution, s.description,
         CASE WHEN s.h < s.resolved_share
                   AND s.created_at + s.resolution < timestamp '2026-11-21' THEN 'Resolved'
              WHEN s.h < s.resolved_share + (1 - s.resolved_share) / 2 THEN 'In Progress'
              ELSE 'Open'
         END AS status
  FROM (
    SELECT i AS ticket_id,
           c.customer_id,
           c.created_at,
           pg_temp.rnd('status' || i) AS h,
           CASE WHEN c.created_at < timestamp '2026-10-01' THEN 0.88 ELSE 0.45 END AS resolved_share,
           (60 + floor(pg_temp.rnd('resolve' || i) ^ 2 * 14400)::int) * interval '1 minute' AS resolution,
           (ARRAY['Order arrived late', 'Item arrived damaged', 'Wrong item delivered',
                  'Refund not received', 'Cannot log in to my account',
                  'Question about warranty', 'Invoice address is wrong',
                  'Product stopped working after a week', 'Missing part in the box',
                  'Request to cancel order'])[1 + floor(pg_temp.rnd('desc' || i) * 10)::int] AS description
    FROM generate_series(1, 300) AS i
    CROSS JOIN LATERAL (
      SELECT cu.customer_id,
             greatest(timestamp '2025-01-15', cu.date_joined::timestamp)
               + floor(pg_temp.rnd('created' || i)
                       * extract(epoch FROM timestamp '2026-11-20 23:00'
                                 - greatest(timestamp '2025-01-15', cu.date_joined::timestamp)))
                 * interval '1 second' AS created_at
      FROM customers AS cu
      WHERE cu.customer_id = 1 + floor(pg_temp.rnd('ticket' || i) * 200)::int
    ) AS c
  ) AS s
) AS t
ORDER BY t.ticket_id;

COMMIT;

-- Fresh statistics, so the catalog's row estimates (reltuples) are exact.
ANALYZE customers, products, orders, order_items, support_tickets;
