// nodemailer_bench.js - the Nodemailer peer of bench/run.sh: N letters over
// one pooled connection (pool: true, maxConnections: 1), which pipelines
// (RFC 2920: its MAIL, RCPT and DATA in one flight, 2 round trips a
// letter).  Nodemailer comes from the npm registry, installed by run.sh
// into bench/node/ (ignored by git).
//
//   node bench/nodemailer_bench.js N PORT BODYFILE
//
// All N letters are handed over at once, as a program with a queue would.
// Prints the elapsed wall-clock seconds and the CPU seconds (user +
// system) of the process meanwhile.
'use strict';
const path = require('path');
const fs = require('fs');
const nodemailer = require(path.join(__dirname, 'node', 'node_modules',
                                     'nodemailer'));

async function main() {
  const [n, port, bodyfile] = process.argv.slice(2);
  const body = fs.readFileSync(bodyfile, 'utf8');
  const transport = nodemailer.createTransport({
    host: '127.0.0.1', port: Number(port), secure: false,
    ignoreTLS: true, pool: true, maxConnections: 1,
    maxMessages: Infinity, name: 'bench.example',
  });
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const sends = [];
  for (let i = 0; i < Number(n); i++) {
    sends.push(transport.sendMail({
      from: 'a@example.com', to: 'b@example.com', subject: 'bench',
      text: body,
    }));
  }
  await Promise.all(sends);
  transport.close();
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  console.log(`${secs.toFixed(6)} ${((c.user + c.system) / 1e6).toFixed(3)}`);
}

main().catch((e) => { console.error(`nodemailer_bench: ${e}`); process.exit(1); });
