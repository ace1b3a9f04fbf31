// The baseline of the scale benchmark: bare node:http answering every request with the same
// bytes (a body of a given size, or a file's bytes as they are, optionally marked gzip), so the
// index is compared with what this machine can serve at all, in the same run.
//   node bench/bare-server.mjs PORT size N
//   node bench/bare-server.mjs PORT file PATH [gzip]
import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const [port, mode, arg, encoding] = process.argv.slice(2);
const body = mode === 'size' ? Buffer.alloc(Number(arg), 'x') : readFileSync(arg);
const headers = { 'Content-Type': 'text/html', 'Content-Length': body.length, ...(encoding === 'gzip' ? { 'Content-Encoding': 'gzip' } : {}) };
createServer((request, response) => {
  response.writeHead(200, headers);
  response.end(body);
}).listen(Number(port), '127.0.0.1', () => process.send?.('ready'));
