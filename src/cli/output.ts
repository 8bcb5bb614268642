/** Where a command writes: stdout for results, stderr for refusals and errors. */
export interface Output {
  print(text: string): void;
  error(text: string): void;
}

/** Bad arguments: the CLI prints the message and the usage, and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
