import { parseArgs } from 'node:util';

/** Where a command writes: stdout for results, stderr for refusals and errors. */
export interface Output {
  print(text: string): void;
  error(text: string): void;
}

/** Bad arguments: the CLI prints the message and the usage, and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** parseArgs, strict (a typo is an error, not ignored), failing with a UsageError. */
export function parse<T extends NonNullable<Parameters<typeof parseArgs>[0]>['options']>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
