// The baseline of the scale benchmark's event-loop stalls: a Node process that does nothing but
// watch its own event loop, as the server's metrics do (perf_hooks, 10 ms resolution), and print
// the longest delay of each second. When the probe stalls as long as the server, the delay was
// the machine's (both waited for a core), not the server's work.
//   node bench/stall-probe.mjs     (one line per second: the longest delay in ms)
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setInterval } from 'node:timers';

const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();
setInterval(() => {
  process.stdout.write(`${(delay.max / 1e6).toFixed(1)}\n`);
  delay.reset();
}, 1000);
