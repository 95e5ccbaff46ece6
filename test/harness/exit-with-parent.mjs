// Preloaded (`node --import`) into a child process that must not outlive the process that spawned
// it; spawn through exitWithParent() in ./exit-with-parent.ts, which passes what this reads. The
// parent holds the write end of a pipe and never writes to it. The kernel closes that end when the
// parent ends, whichever way it ends (exit, an uncaught error, SIGKILL, a test cancelled at its
// timeout), and the child reads end-of-file: it stops as on SIGTERM (the broker drains and exits),
// and is killed if it still runs 5 s later. Plain JavaScript so that it loads without tsx into the
// built broker (bin/credential-broker.js).
import net from 'node:net';

const fd = Number(process.env.EXIT_WITH_PARENT_FD);
// Not for this process's own children: they get their own pipe, or none. Without one this module
// does nothing, since it may reach grandchildren through NODE_OPTIONS (test/harness/docs-runner.ts).
delete process.env.EXIT_WITH_PARENT_FD;
if (Number.isInteger(fd) && fd >= 3) {
  const pipe = new net.Socket({ fd, readable: true, writable: false });
  const parentGone = () => {
    setTimeout(() => process.kill(process.pid, 'SIGKILL'), 5000).unref();
    process.kill(process.pid, 'SIGTERM');
  };
  pipe.on('data', () => {}); // nothing is ever written; reading is what notices the end
  pipe.once('end', parentGone);
  pipe.once('error', parentGone);
  // The pipe alone must not keep the child alive: it ends on its own terms while the parent lives.
  pipe.unref();
}
