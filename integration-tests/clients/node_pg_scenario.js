// node-postgres (`pg`): parameterised queries through the extended protocol (text format),
// named prepared statements, types, row counts, transactions, errors.
//
// Connects with PGHOST/PGPORT/PGUSER/PGDATABASE and prints what it observes, one line per
// observation, so the test can compare DriftDB's transcript with PostgreSQL's.
const { Client } = require('pg');

function show(label, value) {
  console.log(label, JSON.stringify(value));
}

async function main() {
  const client = new Client();
  await client.connect();
  await client.query(
    'CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, total NUMERIC(10,2), ' +
      'placed TIMESTAMPTZ, shipped BOOLEAN, items JSONB, big BIGINT)'
  );
  const insert = await client.query(
    'INSERT INTO orders VALUES ($1, $2, $3, $4, $5, $6, $7), ($8, $9, $10, $11, $12, $13, $14)',
    [1, 'ada', '19.99', '2026-01-02T03:04:05Z', true, JSON.stringify({ n: 2 }), '9007199254740993',
     2, 'bob', null, null, false, null, null]
  );
  show('insert', [insert.command, insert.rowCount]);
  const rows = await client.query('SELECT * FROM orders ORDER BY id');
  show('rows', rows.rows.map((r) => ({ ...r, placed: r.placed && r.placed.toISOString() })));
  show('fields', rows.fields.map((f) => [f.name, f.dataTypeID]));
  for (let i = 0; i < 3; i++) {
    const named = await client.query({
      name: 'by-customer',
      text: 'SELECT id, total FROM orders WHERE customer = $1',
      values: ['ada'],
    });
    show('named', named.rows);
  }
  const update = await client.query('UPDATE orders SET shipped = $1 WHERE id > $2', [true, 0]);
  show('update', [update.command, update.rowCount]);
  await client.query('BEGIN');
  await client.query('INSERT INTO orders (id, customer) VALUES ($1, $2)', [3, 'carol']);
  try {
    await client.query('INSERT INTO orders (id, customer) VALUES ($1, $2)', [1, 'dup']);
  } catch (e) {
    show('error', e.code);
  }
  try {
    await client.query('SELECT 1');
  } catch (e) {
    show('aborted', e.code);
  }
  await client.query('ROLLBACK');
  const count = await client.query('SELECT count(*) AS n FROM orders');
  show('count', count.rows);
  const rowMode = await client.query({ text: 'SELECT id, customer FROM orders ORDER BY id', rowMode: 'array' });
  show('array rows', rowMode.rows);
  try {
    await client.query('SELEC 1');
  } catch (e) {
    show('syntax', e.code);
  }
  const del = await client.query('DELETE FROM orders WHERE id = $1 RETURNING customer', [2]);
  show('delete', [del.command, del.rowCount, del.rows]);
  await client.query('DROP TABLE orders');
  await client.end();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
