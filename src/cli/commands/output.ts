// Writing command output to stdout with backpressure (the CLI is the only layer that prints).

/** Writes `chunk` to stdout, waiting for 'drain' when the pipe is full. */
export async function writeOut(chunk: Uint8Array | string): Promise<void> {
  if (!process.stdout.write(chunk)) await new Promise<void>((resolve) => process.stdout.once('drain', resolve));
}
