/**
 * The streams a command talks through. The CLI passes the process's; tests pass strings, so a
 * command's output and exit code are checked without spawning a process.
 */
export interface CommandIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** The whole of standard input (read only by commands given `-`). */
  readonly readStdin: () => Promise<string>;
}

export const processIo: CommandIo = {
  stdout: (text) => { process.stdout.write(text); },
  stderr: (text) => { process.stderr.write(text); },
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
};
