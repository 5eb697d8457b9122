const { Client } = require('pg');
(async () => {
  const c = new Client({ host: '127.0.0.1', port: +process.argv[2], user: 'tester', database: 'driftdb' });
  await c.connect();
  await c.query('CREATE TABLE IF NOT EXISTS wf_notes (id serial PRIMARY KEY, body text, created timestamp DEFAULT now())');
  await c.query('INSERT INTO wf_notes (body) VALUES ($1), ($2) RETURNING id', ['hello', null]);
  await c.query({ name: 'by-body', text: 'SELECT id, body FROM wf_notes WHERE body = $1', values: ['hello'] });
  await c.query({ name: 'by-body', text: 'SELECT id, body FROM wf_notes WHERE body = $1', values: ['bye'] });
  await c.query({ text: 'SELECT $1::int AS n, $2::text AS t', values: [42, 'x'], rowMode: 'array' });
  try { await c.query('SELECT * FROM wf_missing WHERE id = $1', [1]); } catch (e) {}
  await c.end();
})();
