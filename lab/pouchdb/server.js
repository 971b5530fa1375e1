// A real CouchDB-API server for the ajar lab: express-pouchdb on an
// in-memory PouchDB, seeded with the lab's fictional records.
//
// Usage: node server.js --listen ADDR:PORT --seed FILE [--variant open|secured]
//
// FILE is the JSON that `go run ./lab/cmd/emulators -dump couchdb` writes:
// {"databases":[{"name":…,"docs":[…]}]}. Port 0 picks a free port; the
// address listened on is printed as "listening on ADDR:PORT" once the data
// is loaded. "open" has no server admin; "secured" has one, and every
// database admits only it (_security members), so that anonymous reads of a
// database answer 401 — while /, /_all_dbs and /{db} info still answer, as
// in CouchDB 1.x.
'use strict';

const fs = require('fs');
const http = require('http');
const express = require('express');
const PouchDB = require('pouchdb-core')
  .plugin(require('pouchdb-adapter-memory'))
  .plugin(require('pouchdb-adapter-http'))
  .plugin(require('pouchdb-mapreduce'))
  .plugin(require('pouchdb-replication'));

const ADMIN_USER = 'admin';
const ADMIN_PASSWORD = 'lab-secret-couch'; // guards fictional data on loopback

function parseArgs(argv) {
  const args = { variant: 'open' };
  for (let i = 2; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--?/, '');
    args[k] = argv[i + 1];
  }
  if (!args.listen || !args.seed) {
    throw new Error('usage: node server.js --listen ADDR:PORT --seed FILE [--variant open|secured]');
  }
  if (args.variant !== 'open' && args.variant !== 'secured') {
    throw new Error('--variant must be open or secured');
  }
  const i = args.listen.lastIndexOf(':');
  args.host = args.listen.slice(0, i);
  args.port = Number(args.listen.slice(i + 1));
  if (!/^127\./.test(args.host)) {
    throw new Error('the lab listens on loopback (127.0.0.0/8) only');
  }
  return args;
}

// refuseAnonymousWrites answers 401 to a writing request without
// credentials when an admin is configured: express-pouchdb 4.2.0 crashes on
// an anonymous PUT of a new database in that state.
function refuseAnonymousWrites(state) {
  return function (req, res, next) {
    const reads = ['GET', 'HEAD', 'OPTIONS'];
    if (state.adminSet && !reads.includes(req.method) && !req.headers.authorization) {
      res.status(401).json({ error: 'unauthorized', reason: 'You are not a server admin.' });
      return;
    }
    next();
  };
}

async function main() {
  const args = parseArgs(process.argv);
  const seed = JSON.parse(fs.readFileSync(args.seed, 'utf8'));
  const MemPouch = PouchDB.defaults({ adapter: 'memory' });
  // The server's own log is not kept: the lab has nothing to debug in it.
  const pouch = require('express-pouchdb')(MemPouch, { inMemoryConfig: true, logPath: '/dev/null' });

  for (const d of seed.databases) {
    const db = new MemPouch(d.name);
    const res = await db.bulkDocs(d.docs);
    const failed = res.filter((r) => r.error);
    if (failed.length) {
      throw new Error(`seed ${d.name}: ${failed.length} documents refused`);
    }
  }

  const app = express();
  app.disable('x-powered-by');
  const state = { adminSet: false };
  app.use(refuseAnonymousWrites(state));
  app.use('/', pouch);

  const server = app.listen(args.port, args.host, async () => {
    const addr = server.address();
    try {
      if (args.variant === 'secured') {
        await secure(pouch, addr, seed.databases.map((d) => d.name));
        state.adminSet = true;
      }
    } catch (e) {
      console.error(`secure: ${e.stack || e}`);
      process.exit(1);
    }
    console.log(`listening on ${addr.address}:${addr.port}`);
  });
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

// secure admits only the admin to each database, then configures the
// admin. The security objects are written over HTTP by this process while
// no admin exists yet: the plugin that keeps them is installed on the
// server's own PouchDB class.
async function secure(pouch, addr, names) {
  for (const name of names) {
    const body = JSON.stringify({
      admins: { names: [ADMIN_USER], roles: [] },
      members: { names: [ADMIN_USER], roles: [] },
    });
    await request(addr, 'PUT', '/' + encodeURIComponent(name) + '/_security', body);
  }
  await new Promise((resolve, reject) => {
    pouch.couchConfig.set('admins', ADMIN_USER, ADMIN_PASSWORD, (err) => (err ? reject(err) : resolve()));
  });
}

function request(addr, method, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: addr.address, port: addr.port, method, path,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode < 300 ? resolve() : reject(new Error(`${method} ${path}: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
