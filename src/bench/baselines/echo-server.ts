/**
 * Baseline of `npm run bench:collector`: a bare `node:dgram` server that sends every datagram
 * back unchanged, the ceiling for a Node UDP server on this machine. Listens on 127.0.0.1 (the
 * port is the first argument, default 0: any), prints `listening on 127.0.0.1:PORT` on stderr and
 * serves until SIGTERM or SIGINT.
 * @module
 */
import { createSocket } from 'node:dgram';

const socket = createSocket('udp4');
socket.on('message', function echo(bytes, peer) {
  socket.send(bytes, peer.port, peer.address);
});
socket.on('error', (err) => {
  process.stderr.write(`echo-server: ${err.message}\n`);
  process.exitCode = 1;
  socket.close();
});
socket.bind(Number(process.argv[2] ?? '0'), '127.0.0.1', () => {
  // The same receive buffer as the collector's sockets (udp.ts), so the ceiling is comparable.
  socket.setRecvBufferSize(4 * 1024 * 1024);
  process.stderr.write(`echo-server: listening on 127.0.0.1:${socket.address().port}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    socket.close();
  });
}
