// The same-run baseline: a bare node:http server that reads the body, parses
// the JSON and answers 200 — what any HTTP endpoint costs before doing work.
'use strict';
const http = require('node:http');

const server = http.createServer((request, response) => {
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', () => {
    try {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"message":"ok"}');
    } catch {
      response.writeHead(400, { 'content-type': 'application/json' }).end('{"message":"malformed JSON"}');
    }
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.send?.('listening'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
