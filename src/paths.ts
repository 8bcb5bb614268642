import { fileURLToPath } from 'node:url';

/** The project's root folder (this file lives in src/). */
export const projectRoot = fileURLToPath(new URL('..', import.meta.url));
export const viewsDir = fileURLToPath(new URL('../views', import.meta.url));
