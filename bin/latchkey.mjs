#!/usr/bin/env node
// Latchkey's command-line tool: runs the TypeScript sources through tsx, like `npm start`.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
main();
