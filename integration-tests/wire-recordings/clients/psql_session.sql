CREATE TABLE IF NOT EXISTS wf_items (id int PRIMARY KEY, name text, price numeric(10,2), tags jsonb);
INSERT INTO wf_items VALUES (1, 'apple', 1.50, '{"a": 1}'), (2, 'pear', NULL, '[]') ON CONFLICT DO NOTHING;
SELECT id, name, price FROM wf_items WHERE price IS NOT NULL ORDER BY id;
BEGIN;
UPDATE wf_items SET price = price * 2 WHERE id = 1;
SELECT 1/0;
ROLLBACK;
\d
\d wf_items
\copy wf_items (id, name) FROM stdin
3	plum
4	fig
\.
SELECT count(*) FROM wf_items;
