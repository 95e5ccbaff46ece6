/** Where a command writes: stdout for results, stderr for diagnostics (tests pass their own). */
export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Which streams are a terminal (progress lines, questions); absent: none is. */
  isTerminal?: { stdin: boolean; stdout: boolean; stderr: boolean };
}

/**
 * A writer for one of the process's streams. A reader that goes away early (`advise | head`)
 * closes the pipe, and the next write fails with EPIPE, emitted on the stream; unhandled, that is
 * a stack trace and exit 1 for what is normal use of a command line. As with `yes | head`, the
 * output nobody reads is dropped and the command finishes quietly with its own exit code (files
 * it writes, such as `advise --out`, are complete). Any other stream error is still thrown.
 */
function writerFor(stream: NodeJS.WriteStream): (text: string) => void {
  let gone = false;
  let watching = false;
  return (text) => {
    if (gone) return;
    if (!watching) {
      watching = true;
      stream.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') {
          gone = true;
          return;
        }
        throw err;
      });
    }
    stream.write(text);
  };
}

export const processIo: Io = {
  stdout: writerFor(process.stdout),
  stderr: writerFor(process.stderr),
  isTerminal: {
    stdin: process.stdin.isTTY === true,
    stdout: process.stdout.isTTY === true,
    stderr: process.stderr.isTTY === true,
  },
};
