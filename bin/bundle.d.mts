// Types of bundle.mjs for the TypeScript that imports it (the tests).
import type * as Cli from '../tasks/cli/main.ts';

/** The package's root folder. */
export declare const ROOT: string;
/** The bundled CLI module's URL when the bundle is fresh, else null. */
export declare function freshBundle(root?: string): string | null;
/** The CLI module: the bundle's when it is fresh, else the sources' through tsx. */
export declare function loadCli(root?: string): Promise<typeof Cli>;
/** Build dist/ from the sources; the number of source files. */
export declare function buildBundle(root?: string): Promise<number>;
